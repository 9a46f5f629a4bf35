"""Energy per machine, line and enterprise; time-of-use cost; energy per good unit; load shifting."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.energy import tariffs as tf
from chaoyun.apps.models import TariffAssignment
from chaoyun.apps.oee import calendar as cal
from chaoyun.devices.models import Device
from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.identity.audit import record_by
from chaoyun.identity.permissions import Actor


def tariff_for(db: Session, org_id: int) -> tf.Tariff:
    a = db.get(TariffAssignment, org_id)
    return tf.get_tariff(a.tariff_key if a else None)


def assign_tariff(db: Session, actor: Actor, key: str) -> TariffAssignment:
    if key not in tf.tariffs():
        raise Invalid(N_("No such tariff."), field="tariff")
    a = db.get(TariffAssignment, actor.org_id)
    before = {"tariff": a.tariff_key} if a else None
    if a is None:
        a = TariffAssignment(org_id=actor.org_id, tariff_key=key)
        db.add(a)
    a.tariff_key = key
    record_by(db, actor, "update", "tariff_assignment", actor.org_id, before=before, after={"tariff": key})
    db.commit()
    return a


@dataclass
class DeviceEnergy:
    device: Device
    kwh: dict[str, float]  # per tariff period
    idle_peak_kwh: float  # energy drawn while idle/off in peak and critical hours
    good: float
    daily: dict[str, float]  # local day → kWh

    @property
    def total(self) -> float:
        return sum(self.kwh.values())


def _device_energy(device: Device, tariff: tf.Tariff, start: datetime, end: datetime) -> DeviceEnergy:
    from chaoyun.devices.store import get_store

    store = get_store()
    roles = {m.role: m.key for m in device.model.metrics if m.role}

    def arr(key: str, pad: timedelta = timedelta(0)) -> tuple[np.ndarray, np.ndarray]:
        rows = store.raw(device.id, key, start - pad, end + pad, limit=5_000_000)
        ts = np.fromiter((int(r[0].timestamp() * 1000) for r in rows), dtype=np.int64, count=len(rows))
        v = np.fromiter((r[1] if r[1] is not None else np.nan for r in rows), dtype=np.float64, count=len(rows))
        ok = ~np.isnan(v)
        return ts[ok], v[ok]

    inc_t, inc = np.zeros(0, dtype=np.int64), np.zeros(0)
    if "energy" in roles:
        t, v = arr(roles["energy"], timedelta(hours=1))
        inc_t, inc = tf.energy_increments(t, v)
    if len(inc_t) == 0 and "power" in roles:
        t, v = arr(roles["power"])
        inc_t, inc = tf.power_increments(t, v, int(end.timestamp() * 1000))
    keep = (inc_t >= int(start.timestamp() * 1000)) & (inc_t < int(end.timestamp() * 1000))
    inc_t, inc = inc_t[keep], inc[keep]
    kwh = tf.by_period(tariff, inc_t, inc)
    idle_peak = 0.0
    if "state" in roles and len(inc_t):
        st = store.raw(device.id, roles["state"], start - timedelta(hours=6), end, limit=5_000_000)
        if st:
            sts = np.fromiter((int(r[0].timestamp() * 1000) for r in st), dtype=np.int64, count=len(st))
            idle = np.fromiter((r[2] in ("idle", "off") for r in st), dtype=bool, count=len(st))
            j = np.searchsorted(sts, inc_t, side="right") - 1
            was_idle = (j >= 0) & idle[np.clip(j, 0, len(idle) - 1)]
            per = tf.periods_of(tariff, inc_t)
            peakish = (per == tf.PERIOD_CODE["peak"]) | (per == tf.PERIOD_CODE["critical"])
            idle_peak = float(inc[was_idle & peakish].sum())
    good = 0.0
    if "good_count" in roles:
        t, v = arr(roles["good_count"], timedelta(hours=1))
        gt, g = tf.energy_increments(t, v)
        good = float(g[(gt >= int(start.timestamp() * 1000)) & (gt < int(end.timestamp() * 1000))].sum())
    elif "cycle_counter" in roles:
        t, v = arr(roles["cycle_counter"], timedelta(hours=1))
        gt, g = tf.energy_increments(t, v)
        good = float(g[(gt >= int(start.timestamp() * 1000)) & (gt < int(end.timestamp() * 1000))].sum())
    day_idx = (inc_t + tf.LOCAL_OFFSET_MS) // 86_400_000
    daily: dict[str, float] = {}
    if len(inc_t):
        uniq, inv = np.unique(day_idx, return_inverse=True)
        sums = np.bincount(inv, weights=inc)
        daily = {str(np.datetime64(int(u), "D")): float(s) for u, s in zip(uniq, sums, strict=False)}
    return DeviceEnergy(device, kwh, idle_peak, good, daily)


def _meters_and_machines(devices: list[Device]) -> list[Device]:
    return [d for d in devices if any(m.role in ("energy", "power") for m in d.model.metrics)]


@dataclass
class EnergyReport:
    tariff: tf.Tariff
    first_day: date
    last_day: date
    devices: list[DeviceEnergy]

    def _sub(self) -> list[DeviceEnergy]:
        # A main meter (category "meter") measures what the machines draw too: the enterprise total comes
        # from the meters when there are any, otherwise from the machines' own metrics.
        meters = [d for d in self.devices if d.device.model.category == "meter"]
        return meters or self.devices

    def kwh_by_period(self) -> dict[str, float]:
        out: dict[str, float] = dict.fromkeys(tf.PERIODS, 0.0)
        for d in self._sub():
            for p, v in d.kwh.items():
                out[p] += v
        return out

    def total_kwh(self) -> float:
        return sum(self.kwh_by_period().values())

    def cost(self) -> dict[str, Decimal]:
        return tf.cost(self.tariff, self.kwh_by_period())

    def good_units(self) -> float:
        return sum(d.good for d in self.devices if d.device.model.category != "meter")

    def per_unit(self) -> float | None:
        g = self.good_units()
        machines = [d for d in self.devices if d.device.model.category not in ("meter", "utility")]
        kwh = sum(d.total for d in machines) if machines else self.total_kwh()
        return kwh / g if g else None

    def daily(self) -> list[tuple[str, float]]:
        tot: dict[str, float] = defaultdict(float)
        for d in self._sub():
            for k, v in d.daily.items():
                tot[k] += v
        return sorted(tot.items())

    def by_line(self) -> list[dict[str, Any]]:
        groups: dict[str, float] = defaultdict(float)
        for d in self.devices:
            if d.device.model.category == "meter":
                continue
            groups[f"{d.device.workshop} / {d.device.line}".strip(" /") or "—"] += d.total
        return [{"name": k, "kwh": round(v, 1)} for k, v in sorted(groups.items(), key=lambda kv: -kv[1])]

    def shifting(self) -> list[dict[str, Any]]:
        """Flexible loads to move to the valley and what that saves: utilities (air compressors, chillers)
        can move a share of their peak energy; production machines can avoid what they draw while idle in
        peak hours. Savings at the tariff's peak − valley price difference.

        These are estimates, not measurements: the movable energy rests on an assumed share of flexible load
        (``flexible`` in tariffs.yaml); each row carries the share it assumed."""
        shares = tf.flexible_shares()
        peak_p, crit_p, valley_p = self.tariff.price("peak"), self.tariff.price("critical"), self.tariff.price("valley")
        out = []
        for d in self.devices:
            cat = d.device.model.category
            if cat == "meter":
                continue
            if cat == "utility":
                share = shares.get("utility", Decimal("0.3"))
                peak_kwh = Decimal(str(round(d.kwh["peak"], 3))) * share
                crit_kwh = Decimal(str(round(d.kwh["critical"], 3))) * share
                kind = "utility"
            else:
                if d.idle_peak_kwh <= 0:
                    continue
                share = shares.get("idle_machine", Decimal(1))
                peak_kwh = Decimal(str(round(d.idle_peak_kwh, 3))) * share
                crit_kwh = Decimal(0)
                kind = "idle_machine"
            movable = peak_kwh + crit_kwh
            if movable <= 0:
                continue
            saving = (peak_kwh * (peak_p - valley_p) + crit_kwh * (crit_p - valley_p)).quantize(Decimal("0.01"))
            out.append(
                {
                    "device_id": d.device.id,
                    "device": d.device.name,
                    "kind": kind,
                    "assumed_flexible_share": float(share),
                    "estimated_movable_kwh": round(float(movable), 1),
                    "estimated_saving_yuan": saving,
                }
            )
        return sorted(out, key=lambda r: -r["estimated_saving_yuan"])

    def flexible_assumption(self) -> dict[str, float]:
        """The assumed shares of flexible load behind the estimates (kind → share of its peak energy)."""
        shares = tf.flexible_shares()
        return {
            "utility": float(shares.get("utility", Decimal("0.3"))),
            "idle_machine": float(shares.get("idle_machine", Decimal(1))),
        }

    def as_dict(self) -> dict[str, Any]:
        per_unit = self.per_unit()
        return {
            "tariff": self.tariff.key,
            "prices": {k: str(v) for k, v in self.tariff.prices().items()},
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "kwh_by_period": {k: round(v, 3) for k, v in self.kwh_by_period().items()},
            "total_kwh": round(self.total_kwh(), 3),
            "cost": {k: str(v) for k, v in self.cost().items()},
            "good_units": round(self.good_units()),
            "kwh_per_unit": None if per_unit is None else round(per_unit, 5),
            "daily": self.daily(),
            "lines": self.by_line(),
            "devices": [
                {"device_id": d.device.id, "device": d.device.name, "kwh": round(d.total, 2), "good": round(d.good)}
                for d in sorted(self.devices, key=lambda x: -x.total)
            ],
            # Estimates resting on assumed flexible shares: the names say so, the assumption travels with them.
            "shifting_estimates": [
                r | {"estimated_saving_yuan": str(r["estimated_saving_yuan"])} for r in self.shifting()
            ],
            "shifting_assumption": self.flexible_assumption(),
        }


def report(db: Session, org_id: int, first_day: date, last_day: date) -> EnergyReport:
    if last_day < first_day or (last_day - first_day).days > 92:
        raise Invalid(N_("Choose a period of at most %(days)s days."), days=92)
    tariff = tariff_for(db, org_id)
    devices = _meters_and_machines(
        list(db.execute(select(Device).where(Device.org_id == org_id).order_by(Device.id)).scalars())
    )
    start, end = cal.local_day_start(first_day), cal.local_day_start(last_day + timedelta(days=1))
    return EnergyReport(tariff, first_day, last_day, [_device_energy(d, tariff, start, end) for d in devices])


@dataclass(frozen=True)
class EnergyPerUnit:
    kwh: float
    good_units: float
    kwh_per_unit: float | None


def energy_per_unit(db: Session, org_id: int, start: date, end: date) -> EnergyPerUnit:
    """For the programme's diagnosis (绿色低碳): kWh, good units and kWh per good unit over [start, end]
    (local days, inclusive). ``kwh_per_unit`` is None when no good units were counted."""
    r = report(db, org_id, start, end)
    return EnergyPerUnit(round(r.total_kwh(), 3), r.good_units(), r.per_unit())
