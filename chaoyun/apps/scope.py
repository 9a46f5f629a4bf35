"""Object scope shared by the apps: an enterprise's records are its own (others' answer 404)."""

from __future__ import annotations

from typing import Any

from chaoyun.errors import NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role


def own(actor: Actor, obj: Any, what: str = N_("No such record, or it is not yours to see.")) -> Any:
    if obj is None or (getattr(obj, "org_id", None) != actor.org_id and actor.role != Role.PLATFORM_ADMIN):
        raise NotFound(what)
    return obj


def org_of(actor: Actor) -> int:
    return actor.org_id
