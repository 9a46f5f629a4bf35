"""Telemetry ingest shared by every transport (HTTP, MQTT, OPC UA / Modbus collectors, gateway, simulator).

Accepted message shapes (``payload`` is already-parsed JSON):

- a flat object ``{"temp": 21.5, "state": "running"}`` (an optional ``"ts"`` key is the timestamp),
- ``{"ts": 1732600000000, "values": {"temp": 21.5}}``,
- a list of either.

``ts`` is epoch milliseconds (as ThingsBoard) or an ISO 8601 string; without it the server's receive time
is used. Each point is checked against the device's model; valid points are stored even when others in
the same message are rejected, and each rejected one is reported (index of the list entry, metric, code,
bilingual reason) and written to the device's rejection log.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.devices.credentials import token_hash, verify_mosquitto_hash
from chaoyun.devices.models import Device, RejectedMessage
from chaoyun.devices.profiles import runtime as profile_runtime
from chaoyun.devices.profiles.document import value_key
from chaoyun.devices.store import RowT, get_store, to_ms
from chaoyun.errors import Unauthorized
from chaoyun.i18n import N_, both
from chaoyun.settings import env

NUM, BOOL, STR, ENUM = 0, 1, 2, 3
_KINDS = {"numeric": NUM, "bool": BOOL, "string": STR, "enum": ENUM}
MAX_TEXT = 256
MAX_LOGGED_PER_MESSAGE = 100  # rejection-log rows per message (the answer lists up to MAX_REPORTED)
MAX_REPORTED = 1000


@dataclass(frozen=True)
class Limits:
    max_points: int
    max_body_bytes: int
    max_age_ms: int
    max_future_ms: int


@lru_cache(maxsize=1)
def limits() -> Limits:
    return Limits(
        max_points=int(env("INGEST_MAX_POINTS")),
        max_body_bytes=int(env("INGEST_MAX_BODY_MB")) * 1024 * 1024,
        max_age_ms=int(env("INGEST_MAX_AGE_DAYS")) * 86_400_000,
        max_future_ms=int(env("INGEST_MAX_FUTURE_S")) * 1000,
    )


@dataclass(frozen=True)
class Point:
    metric: str
    value: float | bool | str
    ts: datetime | None = None


@dataclass(frozen=True)
class Rejected:
    index: int
    metric: str | None
    code: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "metric": self.metric,
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


@dataclass
class IngestResult:
    accepted: int
    rejected: list[Rejected] = field(default_factory=list)
    # All rejected points; ``rejected`` lists at most MAX_REPORTED of them.
    rejected_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected_count": self.rejected_count,
            "rejected": [r.as_dict() for r in self.rejected],
        }


MESSAGES: dict[str, str] = {
    "malformed": N_("The message is not a JSON object or list in one of the documented shapes."),
    "bad_json": N_("The body is not valid JSON."),
    "unknown_metric": N_("Unknown metric “%(metric)s” for this device's model."),
    "type_mismatch": N_("Metric “%(metric)s” expects a value of type %(type)s."),
    "not_finite": N_("NaN and infinite values are not accepted."),
    "out_of_range": N_("The value %(value)s is outside the valid range %(min)s to %(max)s."),
    "bad_timestamp": N_("The timestamp is neither epoch milliseconds nor an ISO 8601 date and time."),
    "ts_future": N_("The timestamp is more than %(seconds)s seconds in the future."),
    "ts_past": N_("The timestamp is more than %(days)s days old."),
    "duplicate": N_("The same metric and timestamp appear more than once in this message."),
    "too_large": N_("The message has %(points)s points; at most %(max)s are accepted in one message."),
    "text_too_long": N_("Text values may have at most %(max)s characters."),
    "not_in_enum": N_("“%(value)s” is not one of the values of “%(metric)s”."),
    "empty": N_("The message has no values."),
    "too_deep": N_("The message is nested more than %(max)s levels deep."),
    "int_range": N_("Whole numbers must fit in 64 bits (at most 19 digits)."),
    "nul_text": N_("Text may not contain NUL characters (\\u0000)."),
}


def _clean(s: str) -> str:
    """Text kept in the rejection log: PostgreSQL refuses NUL characters in text columns."""
    return s.replace("\x00", "\ufffd")


def reject(index: int, point_metric: str | None, code: str, **params: Any) -> Rejected:
    params = {k: _clean(v) if isinstance(v, str) else v for k, v in params.items()}
    m = both(MESSAGES[code], **params)
    return Rejected(index, None if point_metric is None else _clean(point_metric), code, m["zh"], m["en"])


# ---------------------------------------------------------------- parsing

# Deeper than any documented shape (list > entry > values > value) with room for profile reshaping; bounds what
# the fallback parser, the rejection sample and attribute storage recurse into.
MAX_DEPTH = 16
INT64 = 2**63
# A JSON \u0000 escape that is not itself an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(rb"(?:^|[^\\])(?:\\\\)*\\u0000")


class PayloadError(ValueError):
    """A message refused as a whole (``code`` is a key of MESSAGES)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def _int64(digits: str) -> int:
    n = int(digits)
    if not -INT64 <= n < INT64:
        raise PayloadError("int_range")
    return n


def _depth_over(doc: Any, limit: int) -> bool:
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if type(node) is dict else node
        for child in children:
            if type(child) is dict or type(child) is list:
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def parse_payload(raw: bytes) -> Any:
    """JSON of one message, bounded: integers within 64 bits, at most MAX_DEPTH levels, no NUL in text.

    Raises PayloadError (a ValueError). orjson is the fast path; the standard parser reads what orjson refuses
    but the rules accept (NaN / Infinity, rejected later point by point)."""
    if b"\x00" in raw or (b"\\u0000" in raw and _NUL_ESCAPE.search(raw)):
        raise PayloadError("nul_text")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            doc = json.loads(raw, parse_int=_int64)
        except RecursionError as exc:
            raise PayloadError("too_deep", max=MAX_DEPTH) from exc
        except PayloadError:
            raise
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError("bad_json") from exc
    # Each level of nesting needs a bracket in the text: a message with few of them (every usual one) is not
    # walked, which was a tenth of the MQTT worker's time per message.
    if (
        (type(doc) is dict or type(doc) is list)
        and raw.count(b"{") + raw.count(b"[") > MAX_DEPTH
        and _depth_over(doc, MAX_DEPTH)
    ):
        raise PayloadError("too_deep", max=MAX_DEPTH)
    return doc


# ---------------------------------------------------------------- authentication


def authenticate_token(db: Session, raw_token: str) -> Device:
    """The enabled device whose access token this is (device tokens are not user API tokens)."""
    device = None
    if raw_token:
        device = db.execute(select(Device).where(Device.token_hash == token_hash(raw_token))).scalar_one_or_none()
    if device is None or not device.enabled:
        raise Unauthorized(N_("The device token is unknown or the device is disabled."))
    return device


def authenticate_mqtt(db: Session, username: str, password: str) -> Device | None:
    """MQTT username = device uid; password checked against the Mosquitto-format hash."""
    device = db.execute(select(Device).where(Device.uid == username)).scalar_one_or_none()
    if device is None or not device.enabled or not device.mqtt_password_hash:
        return None
    return device if verify_mosquitto_hash(device.mqtt_password_hash, password) else None


# ---------------------------------------------------------------- model specs (cached per model)

Spec = dict[str, tuple[int, int, float, float]]
_specs: dict[int, Spec] = {}
_specs_at: dict[int, float] = {}
_specs_lock = threading.Lock()
# Accepted values of enum metrics (metric id → values as profiles.document.value_key writes them).
_enum_values: dict[int, frozenset[str]] = {}


def model_spec(db: Session, model_id: int) -> Spec:
    spec = _specs.get(model_id)
    # Reloaded after a few seconds: a profile edited in another process applies here too (profiles/runtime).
    if spec is None or not profile_runtime.fresh(_specs_at.get(model_id, 0.0)):
        rows = db.execute(
            text("SELECT id, key, type, min_value, max_value FROM device_metrics WHERE model_id = :m"), {"m": model_id}
        ).all()
        spec = {
            str(key): (
                int(mid),
                _KINDS.get(str(kind), NUM),
                -math.inf if lo is None else float(lo),
                math.inf if hi is None else float(hi),
            )
            for mid, key, kind, lo, hi in rows
        }
        with _specs_lock:
            _specs[model_id] = spec
            _specs_at[model_id] = time.monotonic()
            _enum_values.update(profile_runtime.extras(db, model_id).enum_values)
    return spec


def forget_specs() -> None:
    with _specs_lock:
        _specs.clear()
        _specs_at.clear()
    profile_runtime.forget()


# ---------------------------------------------------------------- validation


def _ts_ms(raw: Any) -> int | None:
    t = type(raw)
    if t is int:
        return int(raw)
    if t is float:
        return int(raw) if math.isfinite(raw) else None
    if t is str:
        try:
            dt = datetime.fromisoformat(raw)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return to_ms(dt)
    return None


_TYPE_NAMES = {NUM: "numeric", BOOL: "bool", STR: "string", ENUM: "enum"}
_isfinite = math.isfinite


def _validate_plain(device_id: int, spec: Spec, payload: dict[str, Any], now_ms: int, lim: Limits) -> list[Any] | None:
    """The rows of the usual message — ``{"ts": <epoch ms>, "values": {...}}`` with every value a valid number —
    or None for anything else, which ``validate`` then checks point by point. Half the cost of the general path
    (no duplicate bookkeeping: one entry has one timestamp and unique keys)."""
    values = payload.get("values")
    ts = payload.get("ts")
    if type(values) is not dict or type(ts) is not int or not values or len(values) > lim.max_points:
        return None
    if ts > now_ms + lim.max_future_ms or ts < now_ms - lim.max_age_ms:
        return None
    rows = []
    for key, v in values.items():
        m = spec.get(key)
        if m is None or m[1] != NUM:
            return None
        tv = type(v)
        if tv is int:
            v = float(v)
        elif tv is not float or not _isfinite(v):
            return None
        if v < m[2] or v > m[3]:
            return None
        rows.append((device_id, m[0], ts, v, None))
    return rows


def validate(
    device_id: int, spec: Spec, payload: Any, now_ms: int, lim: Limits | None = None
) -> tuple[list[RowT], list[Rejected], int]:
    """Points of one message as rows, the rejected points, and how many were rejected in all.
    (A batch passes its ``limits()`` in: reading the settings costs more than validating a small message.)"""
    lim = lim or limits()
    if type(payload) is dict:
        fast = _validate_plain(device_id, spec, payload, now_ms, lim)
        if fast is not None:
            return fast, [], 0
    rows: list[Any] = []
    rejected: list[Rejected] = []
    nrej = 0
    if isinstance(payload, dict):
        entries: list[Any] = [payload]
    elif isinstance(payload, list):
        entries = payload
    else:
        return [], [reject(0, None, "malformed")], 1
    if not entries:
        return [], [reject(0, None, "empty")], 1
    total = 0
    for e in entries:
        if isinstance(e, dict):
            v = e.get("values")
            total += len(v) if isinstance(v, dict) else len(e)
    if total > lim.max_points:
        return [], [reject(0, None, "too_large", points=total, max=lim.max_points)], total
    oldest = now_ms - lim.max_age_ms
    newest = now_ms + lim.max_future_ms
    seen: set[tuple[int, int]] = set()
    add_seen = seen.add
    entry_ts: set[int] = set()
    dup_ts: set[int] = set()
    append = rows.append

    def bad(index: int, point_metric: str | None, code: str, **params: Any) -> None:
        nonlocal nrej
        nrej += 1
        if len(rejected) < MAX_REPORTED:
            rejected.append(reject(index, point_metric, code, **params))

    for index, entry in enumerate(entries):
        if type(entry) is not dict:
            bad(index, None, "malformed")
            continue
        values = entry.get("values")
        flat = values is None
        if flat:
            values = entry
        elif type(values) is not dict:
            bad(index, None, "malformed")
            continue
        if not values:
            bad(index, None, "empty")
            continue
        raw_ts = entry.get("ts")
        if raw_ts is None:
            ts = now_ms
        else:
            parsed = _ts_ms(raw_ts)
            if parsed is None or isinstance(raw_ts, bool):
                for key in values:
                    if not (flat and key == "ts"):
                        bad(index, key, "bad_timestamp")
                continue
            ts = parsed
            if ts > newest or ts < oldest:
                for key in values:
                    if not (flat and key == "ts"):
                        if ts > newest:
                            bad(index, key, "ts_future", seconds=lim.max_future_ms // 1000)
                        else:
                            bad(index, key, "ts_past", days=lim.max_age_ms // 86_400_000)
                continue
        # Keys of one object are unique, so a duplicate needs a timestamp already used by an earlier entry;
        # only then are points checked one by one (keeps the common case free of per-point set lookups).
        check_dup = ts in entry_ts
        if check_dup and ts not in dup_ts:
            dup_ts.add(ts)
            for r in rows:
                if r[2] == ts:
                    add_seen((r[1], ts))
        entry_ts.add(ts)
        for key, v in values.items():
            m = spec.get(key)
            if m is None:
                if flat and key == "ts":
                    continue
                bad(index, key, "unknown_metric", metric=key)
                continue
            mid, kind, lo, hi = m
            tv = type(v)
            if kind == NUM:
                if tv is float:
                    if v != v or v == math.inf or v == -math.inf:
                        bad(index, key, "not_finite")
                        continue
                elif tv is int:
                    v = float(v)
                else:
                    bad(index, key, "type_mismatch", metric=key, type="numeric")
                    continue
                if v < lo or v > hi:
                    bad(index, key, "out_of_range", value=v, min=lo, max=hi)
                    continue
                row = (device_id, mid, ts, v, None)
            elif kind == BOOL:
                if tv is bool:
                    row = (device_id, mid, ts, 1.0 if v else 0.0, None)
                elif tv is int and v in (0, 1):
                    row = (device_id, mid, ts, float(v), None)
                else:
                    bad(index, key, "type_mismatch", metric=key, type="bool")
                    continue
            elif kind == ENUM:
                ek = value_key(v) if tv in (str, int, float, bool) else None
                if ek is None or ek not in _enum_values.get(mid, ()):
                    bad(index, key, "not_in_enum", metric=key, value=str(v)[:40])
                    continue
                row = (device_id, mid, ts, None, ek)  # type: ignore[assignment]
            else:
                if tv is not str:
                    bad(index, key, "type_mismatch", metric=key, type="string")
                    continue
                if len(v) > MAX_TEXT:
                    bad(index, key, "text_too_long", max=MAX_TEXT)
                    continue
                if "\x00" in v:
                    bad(index, key, "nul_text")
                    continue
                row = (device_id, mid, ts, None, v)
            if check_dup:
                k = (mid, ts)
                if k in seen:
                    bad(index, key, "duplicate")
                    continue
                add_seen(k)
            append(row)
    return rows, rejected, nrej


def points_payload(points: list[Point]) -> list[dict[str, Any]]:
    """The documented shape for a list of ``Point``s (what collectors and the simulator build)."""
    out: list[dict[str, Any]] = []
    for p in points:
        entry: dict[str, Any] = {"values": {p.metric: p.value}}
        if p.ts is not None:
            entry["ts"] = to_ms(p.ts)
        out.append(entry)
    return out


# ---------------------------------------------------------------- ingest


def _log(db: Session, device_id: int, source: str, rejected: list[Rejected], payload: Any, at: datetime) -> None:
    sample = _sample(payload)
    for r in rejected[:MAX_LOGGED_PER_MESSAGE]:
        db.add(
            RejectedMessage(
                device_id=device_id,
                ts=at,
                source=source[:16],
                entry=r.index,
                metric=(r.metric or None) if r.metric is None else str(r.metric)[:64],
                code=r.code,
                message_zh=r.message_zh[:300],
                message_en=r.message_en[:300],
                sample=sample,
            )
        )


def _sample(payload: Any) -> str:
    try:
        s = json.dumps(payload, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        try:
            s = repr(payload)
        except RecursionError:
            s = "…"
    return _clean(s[:500])


def log_rejection(db: Session, device: Device, source: str, code: str, sample: str = "", **params: Any) -> Rejected:
    """A message refused as a whole before it could be parsed (bad JSON, oversized body); commits."""
    r = reject(0, None, code, **params)
    db.add(
        RejectedMessage(
            device_id=device.id,
            source=source[:16],
            entry=0,
            metric=None,
            code=code,
            message_zh=r.message_zh[:300],
            message_en=r.message_en[:300],
            sample=_clean(sample[:500]),
        )
    )
    db.commit()
    return r


def ingest(db: Session, device: Device, payload: Any, source: str, received_at: datetime | None = None) -> IngestResult:
    return ingest_batch(db, [(device, payload)], source, received_at)[0]


def ingest_batch(
    db: Session, items: list[tuple[Device, Any]], source: str, received_at: datetime | None = None
) -> list[IngestResult]:
    """Many messages (of one or many devices) in one store write and one database commit."""
    at = received_at or utcnow()
    now_ms = to_ms(at)
    all_rows: list[RowT] = []
    results: list[IngestResult] = []
    per_device: list[tuple[Device, list[RowT]]] = []
    lim = limits()
    per_model: dict[int, tuple[Spec, profile_runtime.Extras]] = {}  # looked up (and freshness checked) once
    for device, payload in items:
        got = per_model.get(device.model_id)
        if got is None:
            got = per_model[device.model_id] = (
                model_spec(db, device.model_id), profile_runtime.extras(db, device.model_id)
            )
        spec, ex = got
        if ex.reshape is not None:
            payload = ex.reshape(payload)
        rows, rejected, nrej = validate(device.id, spec, payload, now_ms, lim)
        accepted = len(rows)
        if ex.derive is not None and rows:
            rows.extend(ex.derive(device.id, rows))  # the machine state, stored with (not counted as) the points
        all_rows.extend(rows)
        per_device.append((device, rows))
        results.append(IngestResult(accepted, rejected, nrej))
        if rejected:
            _log(db, device.id, source, rejected, payload, at)
    store = get_store()
    if all_rows:
        store.write(all_rows, received_ms=now_ms)
    else:
        store.touch({d.id for d, _ in items}, now_ms)
    from chaoyun.devices import alarms

    alarms.on_ingest_batch(db, per_device, at)
    db.commit()
    return results
