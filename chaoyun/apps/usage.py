"""Real use of the apps per enterprise, the programme's evidence that apps are used and not only bought.

Two kinds of record:
- *use*: a person of the enterprise opened an app's page or called its API (one row per person, app and
  day, written by the ``track_use`` dependency, which the app factory puts on every context's routers, so
  production's pages count too);
- *runs on data*: an app whose computation ran over the enterprise's own data in the window — SPC charts
  fed with measured subgroups, OEE and energy over machines that really report their state and meter,
  scheduled reports generated. These are the "data-and-model apps" of the ★★★★★ adoption level.

The programme reads both through ``usage_by_enterprise`` and ``spc_running``; nothing here knows about
the programme.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from chaoyun.apps.models import AppUse, InspectionPlan, Report, Subgroup
from chaoyun.db import get_sessionmaker, utcnow
from chaoyun.devices import service as devices
from chaoyun.i18n import N_
from chaoyun.timefmt import zone as local_zone

# App keys and their names (what the programme shows as evidence).
APPS: dict[str, str] = {
    "oee": N_("OEE"),
    "spc": N_("Quality (SPC)"),
    "energy": N_("Energy"),
    "reports": N_("Reports"),
    "production": N_("Production"),
    "scheduling": N_("Scheduling"),
    "maintenance": N_("Maintenance"),
}
# Request paths → app key (page and API routes of each app).
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("/apps/oee", "oee"),
    ("/api/v1/apps/oee", "oee"),
    ("/apps/quality", "spc"),
    ("/api/v1/apps/quality", "spc"),
    ("/apps/energy", "energy"),
    ("/api/v1/apps/energy", "energy"),
    ("/apps/reports", "reports"),
    ("/api/v1/apps/reports", "reports"),
    ("/apps/scheduling", "scheduling"),
    ("/api/v1/apps/scheduling", "scheduling"),
    ("/apps/maintenance", "maintenance"),
    ("/api/v1/apps/maintenance", "maintenance"),
    ("/production", "production"),
    ("/api/v1/production", "production"),
)
# Metric roles that an app needs reporting before its figures rest on real data.
_NEEDS_ROLES: dict[str, tuple[str, ...]] = {"oee": ("state",), "energy": ("energy", "power")}

# Rows already written by this process (org, user, app, day): the common case costs no query.
_written: set[tuple[int, int, str, date]] = set()


def local_today(now: datetime | None = None) -> date:
    """The day in the deployment's zone (a use at 07:00 Beijing time belongs to that Beijing day)."""
    return (now or utcnow()).astimezone(local_zone()).date()


def app_of_path(path: str) -> str | None:
    for prefix, app in _PREFIXES:
        if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "."):
            return app
    return None


def record_use(
    db: Session, org_id: int, user_id: int, app: str, via: str = "page", at: datetime | None = None
) -> bool:
    """Record that ``user_id`` of ``org_id`` used ``app`` (now, or at ``at`` for the demo's simulated past
    use); True when this is that day's first use."""
    if app not in APPS:
        raise ValueError(f"unknown app {app!r}")
    when = at or utcnow()
    day = local_today(when)
    key = (org_id, user_id, app, day)
    if key in _written:
        return False
    values = {"org_id": org_id, "user_id": user_id, "app": app, "day": day, "first_at": when, "via": via}
    stmt = (pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert)(AppUse).values(**values)
    upsert = stmt.on_conflict_do_nothing(index_elements=["org_id", "user_id", "app", "day"]).returning(AppUse.id)
    inserted = db.execute(upsert).first() is not None  # no row back: another process recorded it first
    db.commit()
    _written.add(key)
    if len(_written) > 50_000:  # a long-running process: forget earlier days
        _written.clear()
    return inserted


async def track_use(request: Request) -> AsyncIterator[None]:
    """Router dependency of the apps: after a successful request by an enterprise's person, record the use.

    Runs after the route's own permission check (FastAPI runs the code after ``yield`` once the endpoint
    returned), so an anonymous or refused request records nothing.
    """
    yield
    actor = getattr(request.state, "actor", None)
    app = app_of_path(request.url.path)
    if actor is None or app is None or getattr(actor.org, "kind", None) != "enterprise":
        return
    via = "api" if request.url.path.startswith("/api/") else "page"
    with get_sessionmaker()() as db:
        record_use(db, int(actor.org_id), int(actor.user.id), app, via)


@dataclass
class AppUsage:
    """One enterprise's use of the apps since a moment."""

    org_id: int
    apps_used: set[str] = field(default_factory=set)
    data_model_apps: set[str] = field(default_factory=set)
    users: set[int] = field(default_factory=set)
    last_day: date | None = None
    days_by_app: dict[str, int] = field(default_factory=dict)


def spc_subgroups_since(db: Session, since: datetime, org_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Measured subgroups per enterprise since ``since`` (imports, forms, API and telemetry alike)."""
    q = (
        select(InspectionPlan.org_id, func.count(Subgroup.id))
        .join(Subgroup, Subgroup.plan_id == InspectionPlan.id)
        .where(Subgroup.ts >= since)
        .group_by(InspectionPlan.org_id)
    )
    if org_ids is not None:
        q = q.where(InspectionPlan.org_id.in_(list(org_ids)))
    return {int(o): int(n) for o, n in db.execute(q).all()}


def spc_running(db: Session, org_id: int, days: int = 30, min_subgroups: int = 5) -> bool:
    """True when the enterprise keeps an SPC chart fed: at least ``min_subgroups`` measured subgroups in
    the last ``days`` days (a chart with a handful of points is not process control yet)."""
    since = utcnow() - timedelta(days=days)
    return spc_subgroups_since(db, since, [org_id]).get(org_id, 0) >= min_subgroups


def usage_by_enterprise(
    db: Session,
    since: datetime,
    min_subgroups: int = 5,
    activity: dict[int, devices.DeviceActivity] | None = None,
) -> dict[int, AppUsage]:
    """Per enterprise since ``since``: apps used (opened by its people, or running on its data) and the
    apps whose computations ran over its real data ("data-and-model apps"). ``activity`` (the devices'
    ``activity_by_enterprise`` for the same moment) saves reading it again when the caller has it."""
    out: dict[int, AppUsage] = {}

    def of(org_id: int) -> AppUsage:
        return out.setdefault(org_id, AppUsage(org_id))

    day_from = since.astimezone(UTC).date()
    rows = db.execute(
        select(AppUse.org_id, AppUse.app, AppUse.user_id, AppUse.day).where(AppUse.day >= day_from)
    ).all()
    days: dict[tuple[int, str], set[date]] = {}
    for org_id, app, user_id, day in rows:
        u = of(int(org_id))
        u.apps_used.add(app)
        u.users.add(int(user_id))
        u.last_day = max(u.last_day or day, day)
        days.setdefault((int(org_id), app), set()).add(day)
    for (org_id, app), ds in days.items():
        out[org_id].days_by_app[app] = len(ds)

    for org_id, n in spc_subgroups_since(db, since).items():
        if n >= min_subgroups:
            of(org_id).data_model_apps.add("spc")
            of(org_id).apps_used.add("spc")

    reports = db.execute(select(Report.org_id).where(Report.created_at >= since).distinct()).scalars().all()
    for org_id in reports:
        of(int(org_id)).data_model_apps.add("reports")
        of(int(org_id)).apps_used.add("reports")

    # OEE and energy rest on real data when the enterprise uses them over machines that really report
    # the signal they compute from (the machine state; the energy meter or power).
    if activity is None:
        activity = devices.activity_by_enterprise(db, since)
    for org_id, use in out.items():
        act = activity.get(org_id)
        if act is None:
            continue
        for app, roles in _NEEDS_ROLES.items():
            if app in use.apps_used and any(r in act.roles_collected for r in roles):
                use.data_model_apps.add(app)
    return out


def usage_for_org(db: Session, org_id: int, days: int = 30) -> AppUsage:
    return usage_by_enterprise(db, datetime.now(UTC) - timedelta(days=days)).get(org_id, AppUsage(org_id))
