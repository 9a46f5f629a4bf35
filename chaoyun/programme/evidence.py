"""What the platform itself knows about enterprises, read from other contexts' service functions.

The devices and apps contexts are imported directly: a broken module fails at start and in the tests.
Only a context that does not exist yet (traceability) answers ``None``, shown as "data source not
available yet" — never as a zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.apps import usage as app_usage_mod
from chaoyun.apps.energy import service as energy_service
from chaoyun.apps.oee import service as oee_service
from chaoyun.devices import service as devices_service
from chaoyun.trace import graph as trace_graph


@dataclass
class OrgEvidence:
    """Platform records for one enterprise over the corroboration window."""

    devices_available: bool = False
    apps_available: bool = False
    devices_total: int = 0
    devices_reporting: int = 0
    metrics: set[str] = field(default_factory=set)
    alarm_rules_active: int = 0
    apps_used: set[str] = field(default_factory=set)
    data_model_apps: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    app_days: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "devices_available": self.devices_available,
            "apps_available": self.apps_available,
            "devices_total": self.devices_total,
            "devices_reporting": self.devices_reporting,
            "metrics": sorted(self.metrics),
            "alarm_rules_active": self.alarm_rules_active,
            "apps_used": sorted(self.apps_used),
            "data_model_apps": sorted(self.data_model_apps),
            "roles": sorted(self.roles),
            "app_days": dict(sorted(self.app_days.items())),
        }


def device_activity(db: Session, days: int = 30) -> dict[int, devices_service.DeviceActivity]:
    return devices_service.activity_by_enterprise(db, datetime.now(UTC) - timedelta(days=days))


def app_usage(
    db: Session, days: int = 30, activity: dict[int, devices_service.DeviceActivity] | None = None
) -> dict[int, app_usage_mod.AppUsage]:
    """Apps used per enterprise (opened by its people or running on its data) and its data-and-model apps."""
    return app_usage_mod.usage_by_enterprise(db, datetime.now(UTC) - timedelta(days=days), activity=activity)


def for_org(db: Session, org_id: int, days: int = 30) -> OrgEvidence:
    ev = OrgEvidence(devices_available=True, apps_available=True)
    devices = device_activity(db, days)
    act = devices.get(org_id)
    if act is not None:
        ev.devices_total = act.devices_total
        ev.devices_reporting = act.devices_reporting
        ev.metrics = set(act.metrics_collected)
        ev.roles = set(act.roles_collected)
        ev.alarm_rules_active = act.alarms_rules_active
    use = app_usage(db, days, activity=devices).get(org_id)
    if use is not None:
        ev.apps_used = set(use.apps_used)
        ev.data_model_apps = set(use.data_model_apps)
        ev.app_days = dict(use.days_by_app)
    return ev


# A change within ±2 % reads as "the same" (the questionnaire's 持平): metering and counting noise.
TREND_TOLERANCE = 0.02


def _trend(before: float | None, after: float | None) -> str | None:
    if before is None or after is None or before <= 0:
        return None
    change = (after - before) / before
    if change > TREND_TOLERANCE:
        return "up"
    if change < -TREND_TOLERANCE:
        return "down"
    return "same"


@dataclass
class Trends:
    """The results items the platform can answer from its own records: the last ``days`` days against the
    ``days`` before. None where either period has no data."""

    energy_trend: str | None  # energy per good unit (the questionnaire asks per 100 yuan of revenue)
    pass_rate_trend: str | None  # good share of the counted output
    energy_per_unit: tuple[float | None, float | None] = (None, None)
    pass_rate: tuple[float | None, float | None] = (None, None)


def results_trends(db: Session, org_id: int, days: int = 30, today: date | None = None) -> Trends:
    end = (today or date.today()) - timedelta(days=1)
    mid = end - timedelta(days=days)
    start = mid - timedelta(days=days)
    e_before = energy_service.energy_per_unit(db, org_id, start + timedelta(days=1), mid).kwh_per_unit
    e_after = energy_service.energy_per_unit(db, org_id, mid + timedelta(days=1), end).kwh_per_unit

    def quality(first: date, last: date) -> float | None:
        period = oee_service.compute_period(db, org_id, first, last)
        return period.summary().quality if period.machines else None

    q_before = quality(start + timedelta(days=1), mid)
    q_after = quality(mid + timedelta(days=1), end)
    return Trends(_trend(e_before, e_after), _trend(q_before, q_after), (e_before, e_after), (q_before, q_after))


def traceability_running(db: Session, org_id: int) -> bool | None:
    """Traceability evidence: the enterprise's recent production lots are linked to the material lots they used."""
    return trace_graph.traceability_running(db, org_id)


def scene_signals(db: Session, org_id: int, ev: OrgEvidence | None = None) -> dict[str, bool | None]:
    """L3 signals per questionnaire evidence key; None where the source does not exist yet."""
    ev = ev or for_org(db, org_id)
    return {
        "devices.alarms": ev.alarm_rules_active > 0 and ev.devices_reporting > 0,
        "energy.monitoring": ev.devices_reporting > 0 and _reports_energy(ev),
        "quality.spc": app_usage_mod.spc_running(db, org_id),
        "production.oee": "oee" in ev.data_model_apps,
        "trace.traceability": traceability_running(db, org_id),
    }


ENERGY_WORDS = ("energy", "power", "kwh", "electric", "gas", "steam", "water")
QUALITY_WORDS = ("quality", "defect", "reject", "pass", "scrap")


def _is_energy_metric(name: str) -> bool:
    low = name.lower()
    return any(w in low for w in ENERGY_WORDS)


def _reports_energy(ev: OrgEvidence) -> bool:
    """A meter or power signal arrives: by its role in the device profile, else by its key."""
    return bool(ev.roles & {"energy", "power"}) or any(_is_energy_metric(m) for m in ev.metrics)


def _reports_quality(ev: OrgEvidence) -> bool:
    return bool(ev.roles & {"good_count", "reject_count"}) or any(
        any(w in m.lower() for w in QUALITY_WORDS) for m in ev.metrics
    )


def collection_areas(ev: OrgEvidence) -> list[str]:
    """Questionnaire data-collection areas shown by devices that really report."""
    if not ev.devices_available or ev.devices_reporting == 0:
        return []
    areas = {"production", "equipment"}
    if _reports_energy(ev):
        areas.add("energy")
    if _reports_quality(ev):
        areas.add("quality")
    return sorted(areas)
