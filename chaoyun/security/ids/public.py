"""What other contexts (security incidents, programme evidence) read of the intrusion detector: alert views, never
the tables. ``docs/interfaces.md`` lists these calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.security.ids.models import IdsAlert


@dataclass(frozen=True)
class IdsAlertView:
    id: int
    org_id: int
    device_id: int | None
    at: datetime  # UTC, the alert's first frame
    rule: str  # engine.RULES code; labels.RULE_TITLES / RULE_EXPLANATIONS translate it
    severity: str  # critical | major | minor
    summary: str
    src: str
    dst: str
    frames: list[int]  # frame numbers in the capture (first 2,000)


def _view(a: IdsAlert) -> IdsAlertView:
    return IdsAlertView(
        id=a.id,
        org_id=a.org_id,
        device_id=a.device_id,
        at=a.at,
        rule=a.rule,
        severity=a.severity,
        summary=a.summary,
        src=a.src,
        dst=a.dst,
        frames=list(a.frames or []),
    )


def alerts_between(db: Session, org_id: int, start: datetime, end: datetime) -> list[IdsAlertView]:
    """Alerts of one organisation whose first frame lies in ``[start, end)``, oldest first."""
    rows = db.execute(
        select(IdsAlert)
        .where(IdsAlert.org_id == org_id, IdsAlert.at >= start, IdsAlert.at < end)
        .order_by(IdsAlert.at, IdsAlert.id)
    ).scalars()
    return [_view(a) for a in rows]


def alerts(db: Session, ids: list[int]) -> list[IdsAlertView]:
    """The alerts with these ids (any organisation: callers check scope), in id order; unknown ids are left out."""
    if not ids:
        return []
    rows = db.execute(select(IdsAlert).where(IdsAlert.id.in_(list(ids))).order_by(IdsAlert.id)).scalars()
    return [_view(a) for a in rows]
