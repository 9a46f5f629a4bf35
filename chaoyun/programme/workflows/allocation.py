"""Shared-service allocation (plan item 7): government-procured cloud services, seats allocated by
倍增优先、先到先得、分行业实施.

- 分行业实施: each service has seats per industry cluster; an enterprise competes only within its cluster.
- 倍增优先: within a cluster, "doubling" enterprises (``EnterpriseProfile.is_doubling``, snapshot at
  application time) come before the others;
- 先到先得: then by application time, then by application id (a deterministic tie-break).

While the service is ``open`` applications only queue. When the city runs the allocation, the first
seats of each cluster go down that order; from then on (``allocating``) every new application and every
released seat re-runs the fill, so the waiting list moves up automatically. A seat already given is never
taken back. Every applicant sees an explanation of their place; every allocation is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, translate
from chaoyun.identity import audit
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import CLUSTER_ZH, Cluster, Role
from chaoyun.programme.workflow_models import SeatApplication, SharedService, SharedServiceQuota
from chaoyun.programme.workflows import workflow as wf
from chaoyun.timefmt import format_dt

SEAT = wf.Workflow(
    "seat",
    N_("seat application"),
    [
        wf.t("allocate", [wf.WAITING], wf.ALLOCATED, wf.SYSTEM, wf.CITY),
        wf.t("release", [wf.ALLOCATED], wf.RELEASED, wf.APPLICANT, wf.CITY),
        wf.t("withdraw", [wf.WAITING], wf.WITHDRAWN, wf.APPLICANT, wf.CITY),
    ],
)
OPEN = "open"
ALLOCATING = "allocating"
CLOSED = "closed"


def _require_city(actor: Actor) -> None:
    if actor.role not in (Role.PLATFORM_ADMIN, Role.CITY_OFFICER):
        raise Forbidden(N_("Only the city bureau manages shared services."))


def create_service(
    db: Session, actor: Actor, name: str, area: str, year: int, quotas: dict[str, int], provider_org_id: int | None
) -> SharedService:
    _require_city(actor)
    if not name.strip():
        raise Invalid(N_("Give the service a name."), field="name")
    clean: dict[str, int] = {}
    for cluster, seats in quotas.items():
        if cluster not in {c.value for c in Cluster}:
            raise Invalid(N_("Unknown industry: %(cluster)s."), cluster=cluster, field="quotas")
        if seats < 0:
            raise Invalid(N_("Seat numbers cannot be negative."), field="quotas")
        if seats:
            clean[cluster] = seats
    if not clean:
        raise Invalid(N_("Give at least one industry some seats."), field="quotas")
    s = SharedService(name=name.strip()[:200], area=area[:40], year=year, provider_org_id=provider_org_id, status=OPEN)
    for cluster, seats in sorted(clean.items()):
        s.quotas.append(SharedServiceQuota(cluster=cluster, seats=seats))
    db.add(s)
    db.flush()
    audit.record_by(
        db,
        actor,
        "shared_service.create",
        "shared_service",
        s.id,
        after={"name": s.name, "year": year, "quotas": clean},
    )
    db.commit()
    return s


def services(db: Session) -> list[SharedService]:
    return list(db.execute(select(SharedService).order_by(SharedService.id.desc())).scalars())


def get_service(db: Session, service_id: int) -> SharedService:
    s = db.get(SharedService, service_id)
    if s is None:
        raise NotFound(N_("No such shared service."))
    return s


def _locked_service(db: Session, service_id: int) -> SharedService:
    """The service, its row locked (SELECT … FOR UPDATE; a no-op on SQLite, which serialises writers)."""
    s = db.get(SharedService, service_id, with_for_update=True, populate_existing=True)
    if s is None:
        raise NotFound(N_("No such shared service."))
    return s


def queue_key(a: SeatApplication) -> tuple[int, datetime, int]:
    """The one ordering rule: doubling first, then earlier application, then lower id."""
    return (0 if a.is_doubling else 1, a.applied_at, a.id)


def apply(db: Session, actor: Actor, service_id: int, now: datetime | None = None) -> SeatApplication:
    now = now or utcnow()
    if actor.role != Role.ENTERPRISE_ADMIN:
        raise Forbidden(N_("Only an enterprise administrator applies for the enterprise."))
    # The service row is the lock for its seats: concurrent applications and releases fill seats one after
    # the other, each counting the seats the previous one gave (else two could take the last seat).
    s = _locked_service(db, service_id)
    if s.status == CLOSED:
        raise Conflict(N_("This shared service no longer takes applications."))
    org = db.get(Organisation, actor.org_id)
    assert org is not None
    if org.enterprise is None:
        raise Forbidden(N_("Only enterprises apply for shared services."))
    cluster = org.enterprise.cluster
    if cluster not in {q.cluster for q in s.quotas}:
        raise Conflict(N_("This service has no seats for your industry."))
    a = SeatApplication(
        service_id=s.id,
        enterprise_org_id=org.id,
        district=org.district,
        cluster=cluster,
        is_doubling=bool(org.enterprise.is_doubling),
        applied_at=now,
        state=wf.WAITING,
        active_key=1,
    )
    db.add(a)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(N_("Your enterprise already has a live application for this service.")) from None
    audit.record_by(
        db, actor, "seat.apply", "seat", a.id, after={"service": s.id, "cluster": cluster, "doubling": a.is_doubling}
    )
    if s.status == ALLOCATING:
        _fill(db, actor, s, now)
    _explain_all(db, s)
    db.commit()
    return a


def run_allocation(db: Session, actor: Actor, service_id: int, now: datetime | None = None) -> int:
    now = now or utcnow()
    _require_city(actor)
    s = db.get(SharedService, service_id, with_for_update=True)
    if s is None:
        raise NotFound(N_("No such shared service."))
    if s.status != OPEN:
        raise Conflict(N_("The allocation has already been run; seats now fill automatically."))
    s.status = ALLOCATING
    audit.record_by(db, actor, "shared_service.allocate", "shared_service", s.id, after={"status": ALLOCATING})
    n = _fill(db, actor, s, now)
    _explain_all(db, s)
    db.commit()
    return n


def _fill(db: Session, actor: Actor | None, s: SharedService, now: datetime) -> int:
    given = 0
    for q in s.quotas:
        apps = list(
            db.execute(
                select(SeatApplication).where(
                    SeatApplication.service_id == s.id,
                    SeatApplication.cluster == q.cluster,
                    SeatApplication.state.in_([wf.WAITING, wf.ALLOCATED]),
                )
            ).scalars()
        )
        used = sum(1 for a in apps if a.state == wf.ALLOCATED)
        for a in sorted((a for a in apps if a.state == wf.WAITING), key=queue_key):
            if used >= q.seats:
                break
            a.allocated_at = now
            SEAT.fire(db, actor, a, "allocate", {wf.SYSTEM}, after={"cluster": q.cluster})
            used += 1
            given += 1
    return given


def _cluster_name(code: str, locale: str) -> str:
    try:
        c = Cluster(code)
    except ValueError:
        return code
    return CLUSTER_ZH[c] if locale == "zh_CN" else c.value


def explain(a: SeatApplication, position: int | None, seats: int, status: str, locale: str = "zh_CN") -> str:
    """The sentence each applicant sees about their place (kept in both languages on the record)."""
    cl = _cluster_name(a.cluster, locale)
    doubling = translate(
        N_("a doubling enterprise (served first)") if a.is_doubling else N_("not a doubling enterprise"), locale
    )
    when = format_dt(a.applied_at, "%Y-%m-%d %H:%M:%S")  # seconds decide the order
    if a.state == wf.ALLOCATED:
        return translate(
            N_("Seat allocated: %(cluster)s has %(seats)s seats; you are %(doubling)s and applied at %(when)s."),
            locale,
            cluster=cl,
            seats=seats,
            doubling=doubling,
            when=when,
        )
    if a.state == wf.WAITING:
        if status == OPEN:
            return translate(
                N_(
                    "Queued: seats of %(cluster)s (%(seats)s) are allocated when the city runs the "
                    "allocation; you are %(doubling)s and applied at %(when)s; your place now is "
                    "%(position)s."
                ),
                locale,
                cluster=cl,
                seats=seats,
                doubling=doubling,
                when=when,
                position=position,
            )
        return translate(
            N_(
                "Waiting list place %(position)s for %(cluster)s (%(seats)s seats, all taken); you are "
                "%(doubling)s and applied at %(when)s. You move up when a seat is released."
            ),
            locale,
            cluster=cl,
            seats=seats,
            doubling=doubling,
            when=when,
            position=position,
        )
    return translate(wf.STATE_LABELS.get(a.state, a.state), locale)


def _explain_all(db: Session, s: SharedService) -> None:
    db.flush()
    for q in s.quotas:
        waiting = sorted(
            db.execute(
                select(SeatApplication).where(
                    SeatApplication.service_id == s.id,
                    SeatApplication.cluster == q.cluster,
                    SeatApplication.state.in_([wf.WAITING, wf.ALLOCATED]),
                )
            ).scalars(),
            key=queue_key,
        )
        pos = 0
        for a in waiting:
            if a.state == wf.WAITING:
                pos += 1
            a.explanation = (
                explain(a, pos, q.seats, s.status, "zh_CN") + "\n" + explain(a, pos, q.seats, s.status, "en")
            )


def explanation_for(a: SeatApplication, locale: str) -> str:
    parts = a.explanation.split("\n", 1)
    if locale == "en" and len(parts) == 2:
        return parts[1]
    return parts[0]


def seat_parties(actor: Actor, a: SeatApplication) -> set[str]:
    parties = wf.government_parties(actor, a.district)
    if actor.org_id == a.enterprise_org_id and actor.role == Role.ENTERPRISE_ADMIN:
        parties.add(wf.APPLICANT)
    return parties


def can_read(actor: Actor, a: SeatApplication) -> bool:
    if actor.is_city_wide:
        return True
    if actor.role == Role.DISTRICT_OFFICER:
        return actor.district is not None and a.district == actor.district
    return actor.org_id == a.enterprise_org_id


def get_application(db: Session, actor: Actor, app_id: int) -> SeatApplication:
    a = db.get(SeatApplication, app_id)
    if a is None or not can_read(actor, a):
        raise NotFound(N_("No such application, or it is not yours to see."))
    return a


def release(db: Session, actor: Actor, app_id: int, action: str = "release", now: datetime | None = None) -> None:
    """Give a seat back (or withdraw from the queue); the next on the waiting list moves up."""
    now = now or utcnow()
    a = get_application(db, actor, app_id)
    if action not in ("release", "withdraw"):
        raise Invalid(N_("Unknown action: %(action)s."), action=action, field="action")
    parties = seat_parties(actor, a)
    s = _locked_service(db, a.service_id)  # same lock order as apply: service row, then the seat
    SEAT.fire(db, actor, a, action, parties)
    a.active_key = a.id
    if s.status == ALLOCATING:
        _fill(db, actor, s, now)
    _explain_all(db, s)
    db.commit()


def applications(db: Session, actor: Actor, service_id: int | None = None) -> list[SeatApplication]:
    q = select(SeatApplication)
    if service_id is not None:
        q = q.where(SeatApplication.service_id == service_id)
    if not actor.is_city_wide:
        if actor.role == Role.DISTRICT_OFFICER:
            q = q.where(SeatApplication.district == actor.district)
        else:
            q = q.where(SeatApplication.enterprise_org_id == actor.org_id)
    rows = list(db.execute(q).scalars())
    return sorted(rows, key=lambda a: (a.service_id, a.cluster, a.state != wf.ALLOCATED, *queue_key(a)))


@dataclass
class ClusterView:
    cluster: str
    seats: int
    allocated: list[SeatApplication]
    waiting: list[SeatApplication]


def board(db: Session, s: SharedService) -> list[ClusterView]:
    out = []
    for q in s.quotas:
        apps = sorted(
            db.execute(
                select(SeatApplication).where(SeatApplication.service_id == s.id, SeatApplication.cluster == q.cluster)
            ).scalars(),
            key=queue_key,
        )
        out.append(
            ClusterView(
                q.cluster,
                q.seats,
                [a for a in apps if a.state == wf.ALLOCATED],
                [a for a in apps if a.state == wf.WAITING],
            )
        )
    return out
