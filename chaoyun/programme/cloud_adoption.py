"""Cloud adoption (上云上平台): declare → verify → count, corroborated by real platform use.

An enterprise declares business areas moved to the cloud with provider and contract. Areas the
platform can corroborate (devices really reporting, apps really used in the last 30 days) are marked
so; a district officer checks the rest. A verified declaration is counted toward the target in a year.
The star rating comes from the same evidence, with thresholds from the policy pack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.audit import record_by
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.identity.permissions import Actor, can_read_org, visible_orgs
from chaoyun.identity.reference import Role
from chaoyun.programme import evidence as evidence_mod
from chaoyun.programme import permissions as perms
from chaoyun.programme.models import CloudAdoption
from chaoyun.programme.pack import CloudAdoptionRules, get_pack
from chaoyun.programme.targets import RuleResult, register_rule, register_series

DECLARED, VERIFIED, REJECTED, COUNTED = "declared", "verified", "rejected", "counted"
STATUS_LABELS = {
    DECLARED: N_("declared"),
    VERIFIED: N_("verified"),
    REJECTED: N_("rejected"),
    COUNTED: N_("counted"),
}
# The only moves a declaration can make.
TRANSITIONS: dict[str, set[str]] = {
    DECLARED: {VERIFIED, REJECTED},
    REJECTED: {DECLARED},
    VERIFIED: {COUNTED},
    COUNTED: set(),
}
# Business areas the platform can corroborate from devices that really report, and from app kinds used.
DEVICE_AREAS = ("equipment", "production_control")
APP_AREAS = {
    "oee": "production_control",
    "scheduling": "production_control",
    "quality": "process_improvement",
    "spc": "process_improvement",
    "energy": "energy",
    "maintenance": "equipment",
    "production": "production_control",
}


@dataclass
class AdoptionIn:
    areas: list[str]
    provider_name: str
    live_since: date
    contract_no: str = ""
    contract_date: date | None = None
    contract_amount: Decimal | None = None
    provider_org_id: int | None = None
    note: str = ""


def _snapshot(a: CloudAdoption) -> dict[str, Any]:
    return {
        "status": a.status,
        "areas": a.areas,
        "provider_name": a.provider_name,
        "stars": a.stars,
        "counted_year": a.counted_year,
        "reason": a.decision_reason,
    }


def transition(db: Session, actor: Actor, a: CloudAdoption, to: str, action: str, **changes: Any) -> CloudAdoption:
    """Move a declaration to ``to`` if the state machine allows it; audited in the same transaction."""
    if to not in TRANSITIONS.get(a.status, set()):
        raise Conflict(
            N_("A declaration that is %(current)s cannot be made %(target)s."),
            current=a.status,
            target=to,
        )
    before = _snapshot(a)
    a.status = to
    for k, v in changes.items():
        setattr(a, k, v)
    db.flush()
    record_by(db, actor, action, "cloud_adoption", str(a.id), before, _snapshot(a))
    return a


def _rules() -> CloudAdoptionRules:
    return get_pack().cloud_adoption


def _validate(data: AdoptionIn) -> None:
    rules = _rules()
    if not data.areas:
        raise Invalid(N_("Choose at least one business area moved to the cloud."), field="areas")
    unknown = [a for a in data.areas if rules.area(a) is None]
    if unknown:
        raise Invalid(N_("Unknown business area: %(area)s."), field="areas", area=", ".join(unknown))
    if not data.provider_name.strip():
        raise Invalid(N_("Name the cloud or platform provider."), field="provider_name")
    if data.contract_amount is not None and data.contract_amount < 0:
        raise Invalid(N_("The contract amount cannot be negative."), field="contract_amount")
    if data.live_since > date.today():
        raise Invalid(N_("The date the business went onto the cloud cannot be in the future."), field="live_since")


def declare(db: Session, actor: Actor, data: AdoptionIn) -> CloudAdoption:
    if not actor.has(perms.ADOPTION_DECLARE):
        raise Forbidden(N_("Your role does not allow this."))
    if actor.org.kind != "enterprise":
        raise Forbidden(N_("Only enterprises declare cloud adoption."))
    _validate(data)
    a = CloudAdoption(
        org_id=actor.org_id,
        status=DECLARED,
        areas={k: None for k in dict.fromkeys(data.areas)},
        provider_name=data.provider_name.strip(),
        provider_org_id=data.provider_org_id,
        contract_no=data.contract_no.strip(),
        contract_date=data.contract_date,
        contract_amount=data.contract_amount,
        live_since=data.live_since,
        note=data.note,
        declared_by=actor.user.id,
        declared_at=utcnow(),
    )
    db.add(a)
    db.flush()
    record_by(db, actor, "adoption.declare", "cloud_adoption", str(a.id), None, _snapshot(a))
    db.commit()
    return a


def get(db: Session, actor: Actor, adoption_id: int) -> CloudAdoption:
    a = db.get(CloudAdoption, adoption_id)
    org = db.get(Organisation, a.org_id) if a else None
    if a is None or org is None or not can_read_org(actor, org):
        raise NotFound(N_("No such declaration, or it is not yours to see."))
    return a


def list_for(
    db: Session, actor: Actor, status: str | None = None, limit: int = 200
) -> list[tuple[CloudAdoption, Organisation]]:
    q = (
        select(CloudAdoption, Organisation)
        .join(Organisation, Organisation.id == CloudAdoption.org_id)
        .where(visible_orgs(actor))
        .order_by(CloudAdoption.id.desc())
        .limit(limit)
    )
    if status:
        q = q.where(CloudAdoption.status == status)
    return [(a, o) for a, o in db.execute(q).all()]


# ---------------------------------------------------------------- evidence and stars


def corroborate(areas: dict[str, Any], ev: evidence_mod.OrgEvidence) -> dict[str, Any]:
    """Mark each declared area "devices" / "apps" where platform records show it in use; keep officer marks."""
    out = dict(areas)
    for key in out:
        if out[key] == "officer":
            continue
        source = None
        if key in DEVICE_AREAS and ev.devices_reporting > 0:
            source = "devices"
        elif any(APP_AREAS.get(app) == key for app in ev.apps_used):
            source = "apps"
        elif key == "energy" and ev.devices_reporting > 0 and evidence_mod._reports_energy(ev):
            source = "devices"
        out[key] = source
    return out


def star_rating(rules: CloudAdoptionRules, verified_areas: int, ev: evidence_mod.OrgEvidence) -> int | None:
    """The highest configured star level whose conditions all hold; None when none does."""
    got = None
    for level in rules.star_rating:
        if verified_areas < level.min_verified_areas:
            continue
        if ev.devices_reporting < level.min_devices_reporting:
            continue
        if level.requires_monitoring and ev.alarm_rules_active <= 0:
            continue
        if len(ev.apps_used) < level.min_apps_used:
            continue
        if len(ev.data_model_apps) < level.min_data_model_apps:
            continue
        got = level.stars
    return got


@dataclass
class Condition:
    """One condition of a star level, with what the platform records show for it."""

    label: str  # English msgid with %(n)s
    n: int
    have: int | bool
    met: bool


def star_conditions(
    rules: CloudAdoptionRules, verified_areas: int, ev: evidence_mod.OrgEvidence
) -> list[tuple[int, list[Condition]]]:
    """Each star level with each of its conditions and whether the evidence meets it (shown on the page, so
    the enterprise and the officer see why a level is or is not reached)."""
    out = []
    for level in rules.star_rating:
        conds = [
            Condition(
                N_("Verified business areas ≥ %(n)s"),
                level.min_verified_areas,
                verified_areas,
                verified_areas >= level.min_verified_areas,
            )
        ]
        if level.min_devices_reporting:
            conds.append(
                Condition(
                    N_("Devices sending data ≥ %(n)s"),
                    level.min_devices_reporting,
                    ev.devices_reporting,
                    ev.devices_reporting >= level.min_devices_reporting,
                )
            )
        if level.requires_monitoring:
            conds.append(
                Condition(N_("Alarm rules watching the devices"), 1, ev.alarm_rules_active, ev.alarm_rules_active > 0)
            )
        if level.min_apps_used:
            conds.append(
                Condition(
                    N_("Apps used ≥ %(n)s"),
                    level.min_apps_used,
                    len(ev.apps_used),
                    len(ev.apps_used) >= level.min_apps_used,
                )
            )
        if level.min_data_model_apps:
            conds.append(
                Condition(
                    N_("Apps running on the enterprise's own data ≥ %(n)s"),
                    level.min_data_model_apps,
                    len(ev.data_model_apps),
                    len(ev.data_model_apps) >= level.min_data_model_apps,
                )
            )
        out.append((level.stars, conds))
    return out


def preview(
    db: Session, actor: Actor, adoption_id: int
) -> tuple[CloudAdoption, dict[str, Any], evidence_mod.OrgEvidence]:
    """The declaration with what the platform corroborates right now (nothing saved)."""
    a = get(db, actor, adoption_id)
    ev = evidence_mod.for_org(db, a.org_id, _rules().corroboration_window_days)
    return a, corroborate(a.areas, ev), ev


def _check_officer(db: Session, actor: Actor, a: CloudAdoption, perm: str) -> None:
    if not actor.has(perm):
        raise Forbidden(N_("Your role does not allow this."))
    org = db.get(Organisation, a.org_id)
    if actor.role == Role.DISTRICT_OFFICER and (org is None or org.district != actor.district):
        raise NotFound(N_("No such declaration, or it is not yours to see."))


def verify(db: Session, actor: Actor, adoption_id: int, officer_checked: list[str], reason: str = "") -> CloudAdoption:
    """District officer: confirm the declaration. Areas not corroborated by platform records count only if
    the officer checked them; at least one area must end up evidenced."""
    a = get(db, actor, adoption_id)
    _check_officer(db, actor, a, perms.ADOPTION_VERIFY)
    ev = evidence_mod.for_org(db, a.org_id, _rules().corroboration_window_days)
    areas = corroborate(a.areas, ev)
    unknown = [k for k in officer_checked if k not in areas]
    if unknown:
        raise Invalid(N_("Unknown business area: %(area)s."), field="officer_checked", area=", ".join(unknown))
    for key in officer_checked:
        if areas[key] is None:
            areas[key] = "officer"
    evidenced = [k for k, v in areas.items() if v]
    if not evidenced:
        raise Invalid(
            N_("No declared area is corroborated by platform records or checked by you; nothing can be verified."),
            field="officer_checked",
        )
    # Unevidenced areas are dropped from the verified record (kept in the audit entry's "before").
    areas = {k: v for k, v in areas.items() if v}
    stars = star_rating(_rules(), len(areas), ev)
    transition(
        db,
        actor,
        a,
        VERIFIED,
        "adoption.verify",
        areas=areas,
        evidence=ev.as_dict(),
        stars=stars,
        verified_by=actor.user.id,
        verified_at=utcnow(),
        decision_reason=reason.strip(),
    )
    db.commit()
    return a


def reject(db: Session, actor: Actor, adoption_id: int, reason: str) -> CloudAdoption:
    a = get(db, actor, adoption_id)
    _check_officer(db, actor, a, perms.ADOPTION_VERIFY)
    if not reason.strip():
        raise Invalid(N_("Give the reason for rejecting the declaration."), field="reason")
    transition(db, actor, a, REJECTED, "adoption.reject", decision_reason=reason.strip())
    db.commit()
    return a


def resubmit(db: Session, actor: Actor, adoption_id: int) -> CloudAdoption:
    a = get(db, actor, adoption_id)
    if not actor.has(perms.ADOPTION_DECLARE) or a.org_id != actor.org_id:
        raise Forbidden(N_("Your role does not allow this."))
    transition(db, actor, a, DECLARED, "adoption.resubmit", decision_reason="")
    db.commit()
    return a


def count(db: Session, actor: Actor, adoption_id: int, year: int | None = None) -> CloudAdoption:
    """City officer: count a verified declaration toward the target in ``year`` (default: the year the
    business went onto the cloud)."""
    a = get(db, actor, adoption_id)
    _check_officer(db, actor, a, perms.ADOPTION_COUNT)
    y = year if year is not None else a.live_since.year
    if y < a.live_since.year:
        raise Invalid(
            N_("It cannot count in a year before the business went onto the cloud (%(year)s)."),
            field="year",
            year=a.live_since.year,
        )
    if y > date.today().year:
        raise Invalid(N_("It cannot count in a future year."), field="year")
    transition(db, actor, a, COUNTED, "adoption.count", counted_year=y, counted_at=utcnow())
    db.commit()
    return a


# ---------------------------------------------------------------- target rule


def _scoped(q: Any, district: str | None, cluster: str | None) -> Any:
    if district:
        q = q.where(Organisation.district == district)
    if cluster:
        q = q.where(EnterpriseProfile.cluster == cluster)
    return q


def _first_counted(db: Session, up_to: int, district: str | None, cluster: str | None) -> list[tuple[int, int]]:
    """(org id, year of its first counted declaration) for enterprises counted by ``up_to``."""
    first = (
        select(CloudAdoption.org_id, func.min(CloudAdoption.counted_year).label("y"))
        .where(CloudAdoption.status == COUNTED)
        .group_by(CloudAdoption.org_id)
        .subquery()
    )
    q = select(first.c.org_id, first.c.y).where(first.c.y <= up_to)
    # Only enterprises can declare, so the join to organisations is needed only to filter by area
    # (joining 10,000 rows for nothing doubled the dashboard's time on PostgreSQL).
    if district or cluster:
        q = q.join(Organisation, Organisation.id == first.c.org_id).join(
            EnterpriseProfile, EnterpriseProfile.org_id == first.c.org_id
        )
    return [(int(o), int(y)) for o, y in db.execute(_scoped(q, district, cluster)).all()]


def counted_rule(db: Session, year: int, district: str | None, cluster: str | None) -> RuleResult:
    """Enterprises with a counted declaration by the end of ``year``; each enterprise counts once,
    in the year of its first counted declaration."""
    ids = [o for o, _ in _first_counted(db, year, district, cluster)]
    return RuleResult(value=len(ids), enterprise_ids=ids)


def counted_series(db: Session, years: list[int], district: str | None, cluster: str | None) -> dict[int, RuleResult]:
    rows = _first_counted(db, max(years), district, cluster)
    out = {}
    for y in years:
        ids = [o for o, first in rows if first <= y]
        out[y] = RuleResult(value=len(ids), enterprise_ids=ids)
    return out


register_rule("cloud_adoption.counted", counted_rule)
register_series("cloud_adoption.counted", counted_series)
