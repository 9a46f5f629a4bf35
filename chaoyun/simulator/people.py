"""The people of the demo factories: on each working day the manager opens OEE and energy and the operator
keeps the SPC charts, as a factory that really runs its apps would. Their use is recorded by the same
function the apps' pages call, so the programme's evidence rules see simulated activity, not drawn numbers.
Deterministic: the same days and hours on every run."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps import usage
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.timefmt import zone as local_zone

# Who opens which app, at what local time, on working days (Monday to Saturday, as Chenghai's toy makers work).
ROUTINE: dict[str, list[tuple[str, time]]] = {
    "enterprise_admin": [("oee", time(8, 30)), ("energy", time(17, 10)), ("reports", time(17, 30))],
    "enterprise_member": [("spc", time(10, 15)), ("oee", time(14, 0))],
}


def simulate_app_use(db: Session, org_ids: list[int], days: int = 7, now: datetime | None = None) -> int:
    """Record the routine's use for the people of ``org_ids`` over the last ``days`` days; returns the uses
    recorded (a use already there is not recorded twice)."""
    zone = local_zone()
    now = now or datetime.now(UTC)
    people = db.execute(
        select(Membership.org_id, Membership.role, User.id)
        .join(User, User.id == Membership.user_id)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.org_id.in_(org_ids), User.is_active.is_(True), Organisation.kind == "enterprise")
        .order_by(Membership.org_id, User.id)
    ).all()
    recorded = 0
    today = now.astimezone(zone).date()
    for back in range(days, -1, -1):
        day = today - timedelta(days=back)
        if day.weekday() == 6:  # Sunday off
            continue
        for org_id, role, user_id in people:
            for app, at in ROUTINE.get(str(role), []):
                when = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
                if when <= now and usage.record_use(db, int(org_id), int(user_id), app, "page", at=when):
                    recorded += 1
    return recorded
