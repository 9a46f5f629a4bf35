"""Who sees which enterprise's security records: the city all, a district officer their district, an enterprise
its own (records of others answer 404)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, true

from chaoyun.errors import NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role


def where(actor: Actor, org_col: Any, district_col: Any) -> Any:
    """SQL filter over a table with an org id and a district column."""
    if actor.is_city_wide:
        return true()
    if actor.role == Role.DISTRICT_OFFICER:
        return district_col == actor.district if actor.district else false()
    if actor.audience == "enterprise":
        return org_col == actor.org_id
    return false()


def can_see(actor: Actor, org_id: int, district: str | None) -> bool:
    if actor.is_city_wide:
        return True
    if actor.role == Role.DISTRICT_OFFICER:
        return actor.district is not None and district == actor.district
    return actor.audience == "enterprise" and org_id == actor.org_id


def check(actor: Actor, org_id: int, district: str | None, what: str = "record") -> None:
    if not can_see(actor, org_id, district):
        raise NotFound(N_("No such security record, or it is not yours to see."))
