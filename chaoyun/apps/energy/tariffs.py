"""Time-of-use tariffs (data in ``tariffs.yaml``) and the arithmetic of energy and its cost.

Energy comes from a device's ``energy`` counter (kWh, monotonic: increments between samples, a reset
counts from zero) or, where a device only reports ``power`` (kW), from integrating power over time
(left Riemann sum with each sample held until the next, capped at 15 minutes so gaps do not invent energy).
Each increment is priced in the period of its sample time (local time, UTC+8).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from chaoyun.settings import env, project_path

PERIODS = ("critical", "peak", "flat", "valley")
PERIOD_CODE = {p: i for i, p in enumerate(PERIODS)}
LOCAL_OFFSET_MS = 8 * 3_600_000
MAX_HOLD_MS = 15 * 60_000


@dataclass(frozen=True)
class Tariff:
    key: str
    name_zh: str
    name_en: str
    flat_price: Decimal
    ratios: dict[str, Decimal]
    # Period code for each of the 96 quarter-hours of a day; critical-peak override months and quarters.
    quarters: tuple[int, ...]
    critical_months: tuple[int, ...]
    critical_quarters: tuple[int, ...]

    def price(self, period: str) -> Decimal:
        return (self.flat_price * self.ratios.get(period, Decimal(1))).quantize(Decimal("0.0001"), ROUND_HALF_UP)

    def prices(self) -> dict[str, Decimal]:
        return {p: self.price(p) for p in PERIODS}


def _q(hm: str) -> int:
    h, m = hm.split(":")
    return int(h) * 4 + int(m) // 15


def tariffs_file() -> Path:
    return project_path(env("TARIFFS_FILE"))


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[dict[str, Tariff], str, dict[str, Decimal]]:
    data: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out: dict[str, Tariff] = {}
    for t in data["tariffs"]:
        quarters = [PERIOD_CODE["flat"]] * 96
        for p in t["periods"]:
            for q in range(_q(p["start"]), _q(p["end"])):
                quarters[q] = PERIOD_CODE[p["period"]]
        crit = t.get("critical") or {}
        cq: list[int] = []
        for a, b in crit.get("hours", []):
            cq += list(range(_q(a), _q(b)))
        out[t["key"]] = Tariff(
            key=t["key"],
            name_zh=t["name_zh"],
            name_en=t["name_en"],
            flat_price=Decimal(str(t["flat_price"])),
            ratios={k: Decimal(str(v)) for k, v in t["ratios"].items()},
            quarters=tuple(quarters),
            critical_months=tuple(int(m) for m in crit.get("months", [])),
            critical_quarters=tuple(cq),
        )
    flex = {k: Decimal(str(v)) for k, v in (data.get("flexible") or {}).items()}
    return out, str(data.get("default") or next(iter(out))), flex


def tariffs() -> dict[str, Tariff]:
    return _load(str(tariffs_file()))[0]


def default_tariff() -> Tariff:
    all_, key, _ = _load(str(tariffs_file()))
    return all_[key]


def flexible_shares() -> dict[str, Decimal]:
    return _load(str(tariffs_file()))[2]


def get_tariff(key: str | None) -> Tariff:
    return tariffs().get(key or "", default_tariff())


def periods_of(tariff: Tariff, ts_ms: np.ndarray) -> np.ndarray:
    """Period code (index into PERIODS) of each timestamp."""
    local = ts_ms.astype(np.int64) + LOCAL_OFFSET_MS
    quarter = (local % 86_400_000) // 900_000
    codes = np.asarray(tariff.quarters, dtype=np.int64)[quarter]
    if tariff.critical_months and tariff.critical_quarters:
        month = (local.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64) % 12) + 1
        crit = np.isin(month, tariff.critical_months) & np.isin(quarter, tariff.critical_quarters)
        codes = np.where(crit, PERIOD_CODE["critical"], codes)
    return codes


def energy_increments(ts: np.ndarray, kwh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Increments of a monotonic counter, stamped at the start of each sample interval (the energy of
    [t0, t1) was drawn in t0's tariff period when samples fall on period boundaries)."""
    if len(ts) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    d = np.diff(kwh)
    d = np.where(d < 0, kwh[1:], d)
    return ts[:-1], d


def power_increments(ts: np.ndarray, kw: np.ndarray, end_ms: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """kWh of each sample interval, stamped at the interval's start (the power held over it)."""
    if len(ts) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    nxt = np.concatenate((ts[1:], [end_ms if end_ms is not None else ts[-1]]))
    dt = np.clip(nxt - ts, 0, MAX_HOLD_MS)
    return ts, np.clip(kw, 0, None) * dt / 3_600_000.0


def by_period(tariff: Tariff, ts: np.ndarray, kwh: np.ndarray) -> dict[str, float]:
    if len(ts) == 0:
        return dict.fromkeys(PERIODS, 0.0)
    codes = periods_of(tariff, ts)
    sums = np.bincount(codes, weights=kwh, minlength=len(PERIODS))
    return {p: float(sums[i]) for i, p in enumerate(PERIODS)}


def cost(tariff: Tariff, kwh_by_period: dict[str, float]) -> dict[str, Decimal]:
    out = {
        p: (Decimal(str(round(kwh_by_period.get(p, 0.0), 3))) * tariff.price(p)).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
        for p in PERIODS
    }
    out["total"] = sum(out.values(), Decimal(0))
    return out
