"""What the platform itself knows about enterprises, read from other contexts' service functions.

Every import is guarded: a context (or a function) that does not exist yet yields ``None``, which callers
show as "data source not available yet" — never as a zero.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session


def optional_fn(module: str, name: str) -> Callable[..., Any] | None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    fn = getattr(mod, name, None)
    return fn if callable(fn) else None


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
        }


def device_activity(db: Session, days: int = 30) -> dict[int, Any] | None:
    fn = optional_fn("chaoyun.devices.service", "activity_by_enterprise")
    if fn is None:
        return None
    result: dict[int, Any] = fn(db, datetime.now(UTC) - timedelta(days=days))
    return result


def app_usage(db: Session, days: int = 30) -> dict[int, Any] | None:
    """Apps used per enterprise: ``chaoyun.apps.service.usage_by_enterprise(db, since)`` when it exists,
    returning ``{org_id: obj}`` with ``apps_used`` and ``data_model_apps`` (sets of app keys)."""
    fn = optional_fn("chaoyun.apps.service", "usage_by_enterprise")
    if fn is None:
        return None
    result: dict[int, Any] = fn(db, datetime.now(UTC) - timedelta(days=days))
    return result


def for_org(db: Session, org_id: int, days: int = 30) -> OrgEvidence:
    ev = OrgEvidence()
    devices = device_activity(db, days)
    if devices is not None:
        ev.devices_available = True
        act = devices.get(org_id)
        if act is not None:
            ev.devices_total = int(getattr(act, "devices_total", 0))
            ev.devices_reporting = int(getattr(act, "devices_reporting", 0))
            ev.metrics = set(getattr(act, "metrics_collected", set()) or set())
            ev.alarm_rules_active = int(getattr(act, "alarms_rules_active", 0))
    apps = app_usage(db, days)
    if apps is not None:
        ev.apps_available = True
        use = apps.get(org_id)
        if use is not None:
            ev.apps_used = set(getattr(use, "apps_used", set()) or set())
            ev.data_model_apps = set(getattr(use, "data_model_apps", set()) or set())
    return ev


def scene_signals(db: Session, org_id: int) -> dict[str, bool | None]:
    """L3 signals per questionnaire evidence key; None where the source does not exist yet."""
    out: dict[str, bool | None] = {}
    ev = for_org(db, org_id)
    out["devices.alarms"] = (ev.alarm_rules_active > 0 and ev.devices_reporting > 0) if ev.devices_available else None
    out["energy.monitoring"] = (
        any(_is_energy_metric(m) for m in ev.metrics) and ev.devices_reporting > 0 if ev.devices_available else None
    )
    for key, module, name in (
        ("quality.spc", "chaoyun.apps.quality.service", "spc_running"),
        ("trace.traceability", "chaoyun.trace.service", "traceability_running"),
    ):
        fn = optional_fn(module, name)
        out[key] = bool(fn(db, org_id)) if fn is not None else None
    return out


ENERGY_WORDS = ("energy", "power", "kwh", "electric", "gas", "steam", "water")
QUALITY_WORDS = ("quality", "defect", "reject", "pass", "scrap")


def _is_energy_metric(name: str) -> bool:
    low = name.lower()
    return any(w in low for w in ENERGY_WORDS)


def collection_areas(ev: OrgEvidence) -> list[str]:
    """Questionnaire data-collection areas shown by devices that really report."""
    if not ev.devices_available or ev.devices_reporting == 0:
        return []
    areas = {"production", "equipment"}
    if any(_is_energy_metric(m) for m in ev.metrics):
        areas.add("energy")
    if any(any(w in m.lower() for w in QUALITY_WORDS) for m in ev.metrics):
        areas.add("quality")
    return sorted(areas)
