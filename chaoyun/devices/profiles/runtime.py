"""What ingest needs of a profile beyond each metric's type and range, cached per model: enum values, the
machine-state derivation (value map or threshold) and the MQTT payload shape (key paths).

Caches are dropped on every profile edit in this process (``forget``) and reloaded after ``TTL_S`` in the
others (ingest workers), so a device keeps sending while its profile is edited and is checked against the
current version within seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from chaoyun.devices.profiles.document import value_key

TTL_S = 10.0
RowT = tuple[int, int, int, float | None, str | None]


@dataclass(frozen=True)
class Extras:
    enum_values: dict[int, frozenset[str]]  # metric id → accepted values (as value_key)
    derive: Callable[[int, list[RowT]], list[RowT]] | None
    reshape: Callable[[Any], Any] | None


NONE = Extras({}, None, None)
_cache: dict[int, tuple[float, Extras]] = {}
_lock = threading.Lock()


def forget() -> None:
    with _lock:
        _cache.clear()


def fresh(loaded_at: float) -> bool:
    return time.monotonic() - loaded_at < TTL_S


def extras(db: Session, model_id: int) -> Extras:
    hit = _cache.get(model_id)
    if hit is not None and fresh(hit[0]):
        return hit[1]
    ex = _load(db, model_id)
    with _lock:
        _cache[model_id] = (time.monotonic(), ex)
    return ex


def _load(db: Session, model_id: int) -> Extras:
    row = db.execute(text("SELECT state_config, connectors FROM device_models WHERE id = :m"), {"m": model_id}).first()
    if row is None:
        return NONE
    state_cfg, connectors = (_json(row[0]), _json(row[1]) or {})
    metrics = db.execute(
        text("SELECT id, key, type, labels, derived FROM device_metrics WHERE model_id = :m"), {"m": model_id}
    ).all()
    ids = {str(k): int(i) for i, k, _t, _l, _d in metrics}
    enum_values = {int(i): frozenset((_json(lab) or {}).keys()) for i, _k, t, lab, _d in metrics if t == "enum"}
    derive = None
    derived_id = next((int(i) for i, _k, _t, _l, d in metrics if d), None)
    if state_cfg and derived_id is not None and state_cfg.get("metric") in ids:
        derive = _deriver(ids[state_cfg["metric"]], derived_id, state_cfg)
    reshape = None
    mq = connectors.get("mqtt") if isinstance(connectors, dict) else None
    if mq and mq.get("values"):
        reshape = _reshaper(dict(mq["values"]), mq.get("ts"))
    if not enum_values and derive is None and reshape is None:
        return NONE
    return Extras(enum_values, derive, reshape)


def _json(v: Any) -> Any:
    if isinstance(v, str):
        import json

        return json.loads(v)
    return v


def state_of(cfg: dict[str, Any], value: float | None, text_value: str | None) -> str | None:
    """The machine state for one reading of the state's source metric (None: not mapped)."""
    if "map" in cfg:
        raw: Any = text_value if text_value is not None else value
        return cfg["map"].get(value_key(raw)) if raw is not None else None
    if value is None:
        return None
    if value > float(cfg["running_above"]):
        return "running"
    idle = cfg.get("idle_above")
    if idle is None:
        return "idle"
    return "idle" if value > float(idle) else "off"


def _deriver(src: int, dst: int, cfg: dict[str, Any]) -> Callable[[int, list[RowT]], list[RowT]]:
    def derive(device_id: int, rows: list[RowT]) -> list[RowT]:
        out: list[RowT] = []
        for r in rows:
            if r[1] == src:
                st = state_of(cfg, r[3], r[4])
                if st is not None:
                    out.append((device_id, dst, r[2], None, st))
        return out

    return derive


def _get(doc: Any, path: str) -> Any:
    cur = doc
    for seg in path.split("."):
        if isinstance(cur, dict):
            if seg not in cur:
                return _MISSING
            cur = cur[seg]
        elif isinstance(cur, list) and seg.isdigit() and int(seg) < len(cur):
            cur = cur[int(seg)]
        else:
            return _MISSING
    return cur


_MISSING = object()


def _reshaper(values: dict[str, str], ts_path: str | None) -> Callable[[Any], Any]:
    """A device's own payload shape → the documented ``{"ts", "values"}`` (lists: entry by entry).
    A payload already in the documented shape passes unchanged, so both work for the same device."""

    def one(entry: Any) -> Any:
        if not isinstance(entry, dict) or isinstance(entry.get("values"), dict):
            return entry
        vals = {}
        for metric, path in values.items():
            v = _get(entry, path)
            if v is not _MISSING:
                vals[metric] = v
        if not vals:
            return entry
        out: dict[str, Any] = {"values": vals}
        ts = _get(entry, ts_path) if ts_path else entry.get("ts", _MISSING)
        if ts is not _MISSING:
            out["ts"] = ts
        return out

    def reshape(payload: Any) -> Any:
        if isinstance(payload, list):
            return [one(e) for e in payload]
        return one(payload)

    return reshape
