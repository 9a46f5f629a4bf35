"""Alarm rules, evaluation and lifecycle, webhooks.

Kinds of rule (``params``):

- ``threshold``: ``{"op": ">" | "<", "value": 80, "duration_s": 30, "hysteresis": 2}`` — raised when the
  metric has been beyond ``value`` for ``duration_s`` (measured on the points' own timestamps), cleared when
  it comes back past ``value ∓ hysteresis`` (so a value hovering at the limit does not flap).
- ``rate``: ``{"max_per_min": 5}`` — raised when the change between consecutive points exceeds
  ``max_per_min`` per minute (either direction), cleared when a later change is within it.
- ``offline``: ``{"seconds": 300}`` — no message from the device for that long (checked periodically).
- ``state``: ``{"states": ["fault", "off"], "shift": {"start": "08:00", "end": "20:00"}, "duration_s": 600}``
  — the state metric in one of ``states`` during the shift (China time) for ``duration_s``.

A rule applies to one device or to every device of a model in the rule's organisation. Evaluation on
ingest is incremental and per batch: each (rule, device) keeps its state row (pending since, last value, open
alarm); an ingest batch reads the state rows of the pairs it touches in one query per rule and writes the
changed ones back in one executemany, in the same transaction as the points. Enabled rules are held in
memory (reloaded every RULES_TTL_S seconds, at once in the process that changes them).

Lifecycle: active → acknowledged (who, when) → cleared (who — a user or "system" — and when). Every
transition queues a webhook delivery (POST JSON, HMAC-signed, retried with back-off).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from chaoyun.db import utcnow
from chaoyun.devices import events, outbound
from chaoyun.devices.models import Alarm, AlarmRule, AlarmState, Device, Webhook, WebhookDelivery
from chaoyun.devices.permissions import ALARMS_ACK, DEVICES_MANAGE
from chaoyun.devices.schemas import RuleIn, WebhookIn
from chaoyun.devices.store import from_ms, get_store
from chaoyun.errors import Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, Msgid
from chaoyun.identity import audit
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role

log = logging.getLogger(__name__)
CHINA = timezone(timedelta(hours=8))  # no daylight saving in China
RULES_TTL_S = 10.0
# A threshold or state rule's row in alarm_states is rewritten when its meaning changes (a breach starts or ends,
# an alarm is raised or cleared); a point that changes nothing only moves last_ts, which is saved at most this
# often. last_ts only guards against late points, so after a restart a point up to this much older than the
# newest one seen may still be evaluated. A rate rule needs every last value: its row is written every batch.
STATE_REFRESH_MS = 60_000
MAX_ATTEMPTS = 6
CLAIM_S = 60  # a delivery being sent is held this long by its worker (see deliver_pending)

# ---------------------------------------------------------------- rules (cached per device)

@dataclass(frozen=True, slots=True)
class _Compiled:
    """A rule with its parameters parsed once (evaluation runs per point)."""

    rule: AlarmRule
    id: int
    kind: str
    metric: str | None
    limit: float
    above: bool
    hyst: float
    duration_ms: float
    max_per_min: float
    states: tuple[str, ...]
    shift: dict[str, Any] | None


def _compile(r: AlarmRule) -> _Compiled:
    p = r.params or {}
    return _Compiled(
        rule=r,
        id=r.id,
        kind=r.kind,
        metric=r.metric,
        limit=_num(p, "value"),
        above=p.get("op", ">") != "<",
        hyst=abs(_num(p, "hysteresis")),
        duration_ms=_num(p, "duration_s") * 1000,
        max_per_min=_num(p, "max_per_min", float("inf")),
        states=tuple(p.get("states") or ["fault", "off"]),
        shift=p.get("shift"),
    )


# What a device's points need: its offline rules, and its other rules by the metric id they watch.
_Plan = tuple[list[_Compiled], dict[int, list[_Compiled]]]


@dataclass
class _RuleIndex:
    """Every enabled rule, by device and by (organisation, model): loaded with one query and kept for
    RULES_TTL_S, so evaluating a batch of thousands of devices costs no query for rules."""

    loaded_at: float
    by_device: dict[int, list[_Compiled]]
    by_model: dict[tuple[int, int], list[_Compiled]]
    plans: dict[tuple[int, int, int], _Plan] = field(default_factory=dict)


_rule_index: _RuleIndex | None = None
_rule_lock = threading.Lock()


class _Saved:
    """What last_ts this process last wrote for each (rule, device) state row: rows at rest are not read back
    (see _load_states), and this says when one is due for its STATE_REFRESH_MS refresh. Another process's writes
    only make a refresh come early. Two generations swapped every refresh period bound it to the pairs written
    lately (an entry older than that would call for a refresh anyway); keys are ints, not tuples (a worker may
    hold one per rule and device of a whole city)."""

    def __init__(self) -> None:
        self.cur: dict[int, int] = {}
        self.prev: dict[int, int] = {}
        self.swapped = time.monotonic()

    def get(self, rule_id: int, device_id: int) -> int | None:
        k = rule_id << 32 | device_id
        v = self.cur.get(k)
        return self.prev.get(k) if v is None else v

    def put(self, rule_id: int, device_id: int, ms: int | None) -> None:
        now = time.monotonic()
        if now - self.swapped >= STATE_REFRESH_MS / 1000:
            self.prev, self.cur, self.swapped = self.cur, {}, now
        if ms is not None:
            self.cur[rule_id << 32 | device_id] = ms

    def clear(self) -> None:
        self.cur.clear()
        self.prev.clear()


_saved = _Saved()


def forget_rules() -> None:
    global _rule_index
    _rule_index = None
    _saved.clear()


def _rules(db: Session) -> _RuleIndex:
    global _rule_index
    idx = _rule_index
    now = time.monotonic()
    if idx is not None and now - idx.loaded_at < RULES_TTL_S:
        return idx
    with _rule_lock:
        rules = list(db.execute(select(AlarmRule).where(AlarmRule.enabled.is_(True))).scalars())
        by_device: dict[int, list[_Compiled]] = {}
        by_model: dict[tuple[int, int], list[_Compiled]] = {}
        for r in rules:
            db.expunge(r)
            if r.device_id is not None:
                by_device.setdefault(r.device_id, []).append(_compile(r))
            elif r.model_id is not None:
                by_model.setdefault((r.org_id, r.model_id), []).append(_compile(r))
        idx = _rule_index = _RuleIndex(now, by_device, by_model)
    return idx


def _compiled_for(idx: _RuleIndex, device_id: int, org_id: int, model_id: int) -> list[_Compiled]:
    own = idx.by_device.get(device_id)
    shared = idx.by_model.get((org_id, model_id))
    if own and shared:
        return own + shared
    return own or shared or []


def rules_for(db: Session, device: Device) -> list[AlarmRule]:
    return [c.rule for c in _compiled_for(_rules(db), device.id, device.org_id, device.model_id)]


def _plan(db: Session, idx: _RuleIndex, device_id: int, org_id: int, model_id: int) -> _Plan | None:
    own = device_id if device_id in idx.by_device else 0
    key = (own, org_id, model_id)
    plan = idx.plans.get(key)
    if plan is None:
        from chaoyun.devices.ingest import model_spec

        rules = _compiled_for(idx, device_id, org_id, model_id)
        spec = model_spec(db, model_id)
        by_mid: dict[int, list[_Compiled]] = {}
        for c in rules:
            if c.kind != "offline" and c.metric and c.metric in spec:
                by_mid.setdefault(spec[c.metric][0], []).append(c)
        plan = idx.plans[key] = ([c for c in rules if c.kind == "offline"], by_mid)
    return plan if plan[0] or plan[1] else None


def _state(db: Session, rule_id: int, device_id: int) -> AlarmState:
    st = db.get(AlarmState, (rule_id, device_id))
    if st is None:
        st = AlarmState(rule_id=rule_id, device_id=device_id)
        db.add(st)
    return st


def _num(params: dict[str, Any], key: str, default: float = 0.0) -> float:
    try:
        return float(params.get(key, default))
    except (TypeError, ValueError):
        return default


def _in_shift(ts: datetime, shift: dict[str, Any] | None) -> bool:
    if not shift:
        return True
    local = ts.astimezone(CHINA)
    minutes = local.hour * 60 + local.minute

    def parse(s: Any, default: int) -> int:
        try:
            h, m = str(s).split(":")
            return int(h) * 60 + int(m)
        except ValueError:
            return default

    start, end = parse(shift.get("start"), 0), parse(shift.get("end"), 24 * 60)
    days = shift.get("weekdays")
    if days and local.isoweekday() not in days:
        return False
    return start <= minutes < end if start <= end else (minutes >= start or minutes < end)


# ---------------------------------------------------------------- evaluation


def on_ingest(
    db: Session, device: Device, rows: Sequence[tuple[int, int, int, float | None, str | None]], at: datetime
) -> None:
    """Evaluate the device's rules on the points just stored (called by ingest, same transaction)."""
    on_ingest_batch(db, [(device, rows)], at)


@dataclass(slots=True)
class _State:
    """An ``alarm_states`` row while a batch is evaluated (times as epoch milliseconds)."""

    pending_ms: int | None = None
    last_ms: int | None = None
    last_value: float | None = None
    alarm_id: int | None = None
    stored: bool = False
    changed: bool = False
    saved_last_ms: int | None = None  # last_ms as the database holds it
    new: Alarm | None = None  # raised in this batch, not flushed yet (its id comes at _Outcome.finish)


class _Outcome:
    """Alarms a batch raises and clears, written together at its end: one flush for every new alarm, one query
    for the alarms it clears and one for the webhooks of their enterprises. Raised and cleared one by one, each
    alarm cost about a millisecond (a flush, a load, a webhook query), and an alarm storm — a tenth of a
    factory's meters over a limit at once — would have stalled ingest."""

    def __init__(self) -> None:
        self.raised: list[tuple[Alarm, _State, dict[str, Any]]] = []
        self.cleared: list[tuple[Alarm | int, datetime]] = []

    def raise_(
        self, rule: AlarmRule, device: Device, st: _State, ts_ms: int, value: float | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        extra = extra or {}
        alarm = _build_alarm(rule, device, from_ms(ts_ms), value, extra)
        self.raised.append((alarm, st, extra))
        st.new, st.pending_ms = alarm, None

    def clear(self, st: _State, ts: datetime) -> None:
        if st.new is not None:
            self.cleared.append((st.new, ts))
        elif st.alarm_id is not None:
            self.cleared.append((st.alarm_id, ts))
        st.new = st.alarm_id = st.pending_ms = None

    def finish(self, db: Session) -> None:
        if not self.raised and not self.cleared:
            return
        if self.raised:
            db.add_all([a for a, _st, _x in self.raised])
            db.flush()
            for a, st, _x in self.raised:
                if st.new is a:
                    st.alarm_id, st.new = a.id, None
        ids = [ref for ref, _ts in self.cleared if isinstance(ref, int)]
        loaded: dict[int, Alarm] = {}
        if ids:
            # Without their devices (joined, with the model and its metrics): _queue loads one only for a webhook.
            q = select(Alarm).where(Alarm.id.in_(ids)).options(lazyload(Alarm.device))
            loaded = {a.id: a for a in db.execute(q).scalars()}
        orgs = {a.org_id for a, _st, _x in self.raised} | {a.org_id for a in loaded.values()}
        hooks: dict[int, list[int]] = {}
        for hid, org_id in db.execute(
            select(Webhook.id, Webhook.org_id).where(Webhook.org_id.in_(orgs), Webhook.enabled.is_(True))
        ):
            hooks.setdefault(org_id, []).append(hid)
        for a, _st, extra in self.raised:
            _announce(db, a, extra, hooks.get(a.org_id, []))
        for ref, ts in self.cleared:
            alarm = ref if isinstance(ref, Alarm) else loaded.get(ref)
            if alarm is not None and alarm.status != "cleared":
                alarm.status, alarm.cleared_at, alarm.cleared_by = "cleared", ts, "system"
                _queue(db, alarm, "alarm.cleared", hooks.get(alarm.org_id, []))


def on_ingest_batch(
    db: Session,
    items: Sequence[tuple[Device, Sequence[tuple[int, int, int, float | None, str | None]]]],
    at: datetime,
) -> None:
    """Evaluate rules on a whole batch of stored points (one entry per message, same transaction).

    The states of every (rule, device) pair involved are read with one query per rule and the changed ones
    written back with one executemany: per message that is a few dictionary look-ups instead of an ORM
    load and flush (which cost about half a millisecond per message)."""
    idx = _rules(db)
    if not idx.by_device and not idx.by_model:
        return
    Points = list[tuple[int, float | None, str | None]]
    work: list[tuple[_Compiled, Device, int, Points | None]] = []
    for device, rows in items:
        if not rows:
            continue
        dev_id = device.id
        plan = _plan(db, idx, dev_id, device.org_id, device.model_id)
        if plan is None:
            continue
        offline, by_mid = plan
        for c in offline:
            work.append((c, device, dev_id, None))  # data arrived: an open offline alarm clears
        if not by_mid:
            continue
        points: dict[int, tuple[_Compiled, Points]] = {}
        for r in rows:
            watching = by_mid.get(r[1])
            if watching is None:
                continue
            for c in watching:
                entry = points.get(c.id)
                if entry is None:
                    entry = points[c.id] = (c, [])
                entry[1].append((r[2], r[3], r[4]))
        for c, watched in points.values():
            work.append((c, device, dev_id, watched))
    if not work:
        return
    # Per rule, the oldest point it sees in this batch (None: every state row is needed, see _load_states).
    since: dict[int, int | None] = {}
    for c, _d, _dev_id, pts in work:
        if pts is None:
            continue
        if c.kind == "rate":
            since[c.id] = None
            continue
        oldest = pts[0][0] if len(pts) == 1 else min(p[0] for p in pts)
        before = since.get(c.id, oldest)
        if before is not None:
            since[c.id] = min(before, oldest)
    states = _load_states(db, {(c.id, dev_id) for c, _d, dev_id, _p in work}, since)
    out = _Outcome()
    for c, device, dev_id, pts in work:
        key = (c.id, dev_id)
        st = states.get(key)
        if pts is None:
            if st is not None and st.alarm_id is not None:
                out.clear(st, at)
                st.changed = True
            continue
        if st is None:
            # No row, or a row at rest (no alarm, nothing pending, older than every point here): both evaluate
            # from the empty state; when this process last wrote it decides whether last_ts is refreshed.
            st = states[key] = _State(saved_last_ms=_saved.get(c.id, dev_id))
        if len(pts) > 1:
            pts.sort(key=lambda p: p[0])
        for ts_ms, value, text in pts:
            if st.last_ms is not None and ts_ms < st.last_ms:
                continue  # late point: the rule already moved past it
            _step(out, c, device, st, ts_ms, value, text)
    out.finish(db)  # before the states are saved: they take the new alarms' ids
    _save_states(db, states)


_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _time_codecs(db: Session) -> tuple[str, Callable[[int], Any], Callable[[Any], int]]:
    """The driver's placeholder and conversions between epoch milliseconds and what alarm_states'
    UTCDateTime columns hold: the hot path below talks to the driver directly (SQLAlchemy's per-row parameter
    and type handling cost more than the statements). SQLite keeps SQLAlchemy's text form
    ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC), so rows written here read back through the ORM unchanged.
    Reading back is integer arithmetic (exact, and a quarter of the cost of ``to_ms``)."""
    dialect = db.get_bind().dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    if dialect.name == "sqlite":

        def to_db(ms: int) -> Any:
            return from_ms(ms).replace(tzinfo=None).isoformat(" ", "microseconds")

        def from_db(v: Any) -> int:
            dt = datetime.fromisoformat(v) if isinstance(v, str) else v
            return (dt - (_EPOCH if dt.tzinfo is None else _EPOCH_UTC)) // _MS

        return mark, to_db, from_db

    def pg_from_db(v: Any) -> int:
        return (v - _EPOCH_UTC) // _MS  # type: ignore[no-any-return]

    return mark, from_ms, pg_from_db


def _load_states(
    db: Session, keys: set[tuple[int, int]], since: dict[int, int | None] | None = None
) -> dict[tuple[int, int], _State]:
    """The state rows of these (rule, device) pairs that the batch's evaluation depends on.

    With ``since[rule]`` given, a row at rest — no open alarm, nothing pending, last_ts not after the rule's
    oldest point in the batch — is left out: evaluating from it or from an empty state comes to the same, and
    reading every device's row each batch was a tenth of the ingest worker's time. Rate rules (``since`` None)
    need every last value."""
    mark, to_db, from_db = _time_codecs(db)
    by_rule: dict[int, list[int]] = {}
    for rule_id, device_id in keys:
        by_rule.setdefault(rule_id, []).append(device_id)
    # The driver's own cursor, inside the session's transaction: SQLAlchemy's result rows cost about a
    # microsecond each, and a batch reads one row per device.
    cur = db.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    out: dict[tuple[int, int], _State] = {}
    for rule_id, device_ids in by_rule.items():
        oldest = since.get(rule_id) if since is not None else None
        params: tuple[Any, ...]
        if since is not None and rule_id not in since:
            # Only offline rules' clearing: rows with an open alarm.
            active, params = " AND alarm_id IS NOT NULL", ()
        elif oldest is not None:
            active = f" AND (alarm_id IS NOT NULL OR pending_since IS NOT NULL OR last_ts > {mark})"
            params = (to_db(oldest),)
        else:
            active, params = "", ()
        for i in range(0, len(device_ids), 500):
            chunk = device_ids[i : i + 500]
            sql = (
                "SELECT device_id, pending_since, last_ts, last_value, alarm_id FROM alarm_states "
                f"WHERE rule_id = {mark} AND device_id IN ({', '.join([mark] * len(chunk))}){active}"
            )
            cur.execute(sql, (rule_id, *chunk, *params))
            for device_id, pending, last, value, alarm_id in cur.fetchall():
                last_ms = None if last is None else from_db(last)
                out[(rule_id, device_id)] = _State(
                    None if pending is None else from_db(pending),
                    last_ms,
                    value,
                    alarm_id,
                    stored=True,
                    saved_last_ms=last_ms,
                )
    return out


def _row_key(row: tuple[Any, ...]) -> tuple[int, int]:
    return row[4], row[5]


def _save_states(db: Session, states: dict[tuple[int, int], _State]) -> None:
    mark, to_db, _from_db = _time_codecs(db)
    new: list[tuple[Any, ...]] = []
    old: list[tuple[Any, ...]] = []
    for (rule_id, device_id), st in states.items():
        if not st.changed:
            continue
        row = (
            None if st.pending_ms is None else to_db(st.pending_ms),
            None if st.last_ms is None else to_db(st.last_ms),
            st.last_value,
            st.alarm_id,
            rule_id,
            device_id,
        )
        (old if st.stored else new).append(row)
        _saved.put(rule_id, device_id, st.last_ms)
    conn = db.connection()
    # One order (rule, device): PostgreSQL writers then take row locks alike.
    new.sort(key=_row_key)
    old.sort(key=_row_key)
    if new:
        # Not read back, so perhaps there (at rest, or written by another worker since): an upsert.
        conn.exec_driver_sql(
            "INSERT INTO alarm_states (pending_since, last_ts, last_value, alarm_id, rule_id, device_id) "
            f"VALUES ({', '.join([mark] * 6)}) ON CONFLICT (rule_id, device_id) DO UPDATE SET "
            "pending_since = excluded.pending_since, last_ts = excluded.last_ts, "
            "last_value = excluded.last_value, alarm_id = excluded.alarm_id",
            new,
        )
    if old:
        conn.exec_driver_sql(
            f"UPDATE alarm_states SET pending_since = {mark}, last_ts = {mark}, last_value = {mark}, "
            f"alarm_id = {mark} WHERE rule_id = {mark} AND device_id = {mark}",
            old,
        )
    # ORM copies of these rows loaded earlier in this session would now be stale.
    for obj in list(db.identity_map.values()):
        if isinstance(obj, AlarmState):
            db.expire(obj)


def _step(
    out: _Outcome, c: _Compiled, device: Device, st: _State, ts_ms: int, value: float | None, text: str | None
) -> None:
    active = st.alarm_id is not None or st.new is not None
    pending_before = st.pending_ms
    kind = c.kind
    if kind == "threshold" and value is not None:
        breach = value > c.limit if c.above else value < c.limit
        if not active:
            if breach:
                if st.pending_ms is None:
                    st.pending_ms = ts_ms
                if ts_ms - st.pending_ms >= c.duration_ms:
                    out.raise_(c.rule, device, st, ts_ms, value)
            else:
                st.pending_ms = None
        elif value < c.limit - c.hyst if c.above else value > c.limit + c.hyst:
            out.clear(st, from_ms(ts_ms))
    elif kind == "rate" and value is not None:
        if st.last_ms is not None and st.last_value is not None and ts_ms > st.last_ms:
            per_min = (value - st.last_value) / ((ts_ms - st.last_ms) / 1000) * 60.0
            too_fast = abs(per_min) > c.max_per_min
            if too_fast and not active:
                out.raise_(c.rule, device, st, ts_ms, value, {"per_min": round(per_min, 3)})
            elif not too_fast and active:
                out.clear(st, from_ms(ts_ms))
    elif kind == "state":
        bad = (text in c.states) and _in_shift(from_ms(ts_ms), c.shift)
        if not active:
            if bad:
                if st.pending_ms is None:
                    st.pending_ms = ts_ms
                if ts_ms - st.pending_ms >= c.duration_ms:
                    out.raise_(c.rule, device, st, ts_ms, None, {"state": text})
            else:
                st.pending_ms = None
        elif not bad:
            out.clear(st, from_ms(ts_ms))
    st.last_ms = ts_ms
    if value is not None:
        st.last_value = value
    if (
        kind == "rate"
        or st.pending_ms != pending_before
        or (st.alarm_id is not None or st.new is not None) != active
        or st.saved_last_ms is None
        or ts_ms - st.saved_last_ms >= STATE_REFRESH_MS
    ):
        st.changed = True


def _message(rule: AlarmRule, device: Device, value: float | None, extra: dict[str, Any]) -> str:
    p = rule.params or {}
    if rule.kind == "threshold":
        return f"{device.name}: {rule.metric} = {value:g} {p.get('op', '>')} {p.get('value')}"
    if rule.kind == "rate":
        return f"{device.name}: {rule.metric} {extra.get('per_min')}/min > {p.get('max_per_min')}/min"
    if rule.kind == "state":
        return f"{device.name}: {rule.metric} = {extra.get('state')}"
    return f"{device.name}: offline > {p.get('seconds')} s"


def _new_alarm(
    db: Session,
    rule: AlarmRule,
    device: Device,
    ts: datetime,
    value: float | None,
    extra: dict[str, Any] | None = None,
    message: str | None = None,
) -> Alarm:
    extra = extra or {}
    alarm = _build_alarm(rule, device, ts, value, extra, message)
    db.add(alarm)
    db.flush()
    _announce(db, alarm, extra)
    return alarm


def _build_alarm(
    rule: AlarmRule, device: Device, ts: datetime, value: float | None, extra: dict[str, Any],
    message: str | None = None,
) -> Alarm:
    return Alarm(
        org_id=device.org_id,
        device_id=device.id,
        rule_id=rule.id,
        kind=rule.kind,
        severity=rule.severity,
        metric=rule.metric,
        status="active",
        message=(message or _message(rule, device, value, extra))[:300],
        details={"rule": rule.name, "params": rule.params, **extra},
        value=value,
        started_at=ts,
    )


def _announce(db: Session, alarm: Alarm, extra: dict[str, Any], hook_ids: list[int] | None = None) -> None:
    """Webhook deliveries and the in-process ``alarm.raised`` event of a flushed new alarm."""
    _queue(db, alarm, "alarm.raised", hook_ids)
    # Contexts above devices react through the in-process hook (scheduling repairs a plan when a machine is down),
    # once the alarm is committed (they enqueue jobs that read it).
    events.publish_after_commit(
        db,
        "alarm.raised",
        org_id=alarm.org_id,
        device_id=alarm.device_id,
        alarm_id=alarm.id,
        severity=alarm.severity,
        kind=alarm.kind,
        state=extra.get("state"),
        metric=alarm.metric,
        started_at=alarm.started_at,
        message=alarm.message,
    )


def raise_from_analysis(
    db: Session,
    device: Device,
    *,
    name: str,
    metric: str,
    severity: str,
    value: float | None,
    text: str,
    details: dict[str, Any],
    ts: datetime,
) -> Alarm:
    """An alarm found by an analysis in a context above devices (anomaly detection), not by a rule: an alarm
    like any other for the alarm pages, webhooks and the ``alarm.raised`` hook."""
    rule = AlarmRule(name=name, kind="state", metric=metric, severity=severity, params={})
    return _new_alarm(db, rule, device, ts, value, details, message=f"{device.name}: {text}")


def clear_alarm(db: Session, alarm_id: int | None, ts: datetime, who: str) -> None:
    """Clear an alarm raised by ``raise_from_analysis`` once its analysis finds the machine normal again."""
    _clear_alarm(db, alarm_id, ts, who)


def _clear_alarm(db: Session, alarm_id: int | None, ts: datetime, who: str) -> None:
    # Without its device (joined, with the model and its metrics): _queue loads it only for a webhook.
    alarm = db.get(Alarm, alarm_id, options=[lazyload(Alarm.device)]) if alarm_id else None
    if alarm is not None and alarm.status != "cleared":
        alarm.status = "cleared"
        alarm.cleared_at = ts
        alarm.cleared_by = who
        _queue(db, alarm, "alarm.cleared")


def check_offline(db: Session, now: datetime | None = None) -> int:
    """Periodic: raise offline alarms for devices silent longer than their rule allows, clear the rest.
    Returns how many alarms were raised."""
    now = now or utcnow()
    rules = list(
        db.execute(select(AlarmRule).where(AlarmRule.kind == "offline", AlarmRule.enabled.is_(True))).scalars()
    )
    raised = 0
    store = get_store()
    for rule in rules:
        q = select(Device).where(Device.org_id == rule.org_id, Device.enabled.is_(True))
        q = q.where(Device.id == rule.device_id) if rule.device_id else q.where(Device.model_id == rule.model_id)
        devices = list(db.execute(q).scalars())
        seen = store.last_seen([d.id for d in devices])
        limit = timedelta(seconds=_num(rule.params or {}, "seconds", 300))
        for d in devices:
            last = seen.get(d.id)
            # A device never heard from counts from its registration.
            silent_since = last or d.created_at
            st = _state(db, rule.id, d.id)
            if now - silent_since > limit:
                if st.alarm_id is None:
                    alarm = _new_alarm(db, rule, d, now, None, {"last_seen": last.isoformat() if last else None})
                    st.alarm_id, st.pending_since = alarm.id, None
                    raised += 1
            elif st.alarm_id is not None:
                _clear_alarm(db, st.alarm_id, now, "system")
                st.alarm_id, st.pending_since = None, None
    db.commit()
    return raised


# ---------------------------------------------------------------- lifecycle by people


def alarm_scope(actor: Actor) -> Any:
    if actor.role == Role.PLATFORM_ADMIN:
        return Alarm.id.is_not(None)
    if actor.audience == "enterprise":
        return Alarm.org_id == actor.org_id
    return Alarm.id.is_(None)


def get_alarm(db: Session, actor: Actor, alarm_id: int) -> Alarm:
    alarm = db.execute(select(Alarm).where(Alarm.id == alarm_id, alarm_scope(actor))).scalar_one_or_none()
    if alarm is None:
        raise NotFound(N_("No such alarm, or it is not yours to see."))
    return alarm


def acknowledge(db: Session, actor: Actor, alarm_id: int) -> Alarm:
    alarm = get_alarm(db, actor, alarm_id)
    if not actor.has(ALARMS_ACK):
        raise Forbidden(N_("Your role may not acknowledge alarms."))
    if alarm.acknowledged_at is None:
        alarm.acknowledged_at = utcnow()
        alarm.acknowledged_by = actor.user.username
        if alarm.status == "active":
            alarm.status = "acknowledged"
        audit.record_by(db, actor, "acknowledge", "alarm", alarm.id, after={"status": alarm.status})
        _queue(db, alarm, "alarm.acknowledged")
    db.commit()
    return alarm


def acknowledge_many(db: Session, actor: Actor, alarm_ids: Sequence[int]) -> int:
    """Acknowledge several alarms at once, all or none: an id that is not the actor's answers 404 and
    nothing changes. Returns how many were newly acknowledged."""
    if not actor.has(ALARMS_ACK):
        raise Forbidden(N_("Your role may not acknowledge alarms."))
    ids = sorted(set(alarm_ids))
    if not ids:
        raise Invalid(N_("Tick at least one alarm to acknowledge."), field="ids")
    if len(ids) > 500:
        raise Invalid(N_("At most %(max)s alarms at once."), field="ids", max=500)
    rows = list(db.execute(select(Alarm).where(Alarm.id.in_(ids), alarm_scope(actor))).scalars())
    if len(rows) != len(ids):
        raise NotFound(N_("No such alarm, or it is not yours to see."))
    now = utcnow()
    done = 0
    for alarm in rows:
        if alarm.acknowledged_at is not None:
            continue
        alarm.acknowledged_at = now
        alarm.acknowledged_by = actor.user.username
        if alarm.status == "active":
            alarm.status = "acknowledged"
        audit.record_by(db, actor, "acknowledge", "alarm", alarm.id, after={"status": alarm.status})
        _queue(db, alarm, "alarm.acknowledged")
        done += 1
    db.commit()
    return done


def clear(db: Session, actor: Actor, alarm_id: int) -> Alarm:
    alarm = get_alarm(db, actor, alarm_id)
    if not actor.has(ALARMS_ACK):
        raise Forbidden(N_("Your role may not clear alarms."))
    if alarm.status != "cleared":
        before = {"status": alarm.status}
        alarm.status = "cleared"
        alarm.cleared_at = utcnow()
        alarm.cleared_by = actor.user.username
        for st in db.execute(select(AlarmState).where(AlarmState.alarm_id == alarm.id)).scalars():
            st.alarm_id = None
            st.pending_since = None
        audit.record_by(db, actor, "clear", "alarm", alarm.id, before=before, after={"status": "cleared"})
        _queue(db, alarm, "alarm.cleared")
    db.commit()
    return alarm


def list_alarms(
    db: Session,
    actor: Actor,
    status: str | None = None,
    severity: str | None = None,
    device_id: int | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> list[Alarm]:
    q = select(Alarm).where(alarm_scope(actor))
    if status == "open":
        q = q.where(Alarm.status != "cleared")
    elif status:
        q = q.where(Alarm.status == status)
    if severity:
        q = q.where(Alarm.severity == severity)
    if device_id:
        q = q.where(Alarm.device_id == device_id)
    if since:
        q = q.where(Alarm.started_at >= since)
    return list(db.execute(q.order_by(Alarm.id.desc()).limit(limit)).scalars())


# ---------------------------------------------------------------- rules by people


def rule_scope(actor: Actor) -> Any:
    if actor.role == Role.PLATFORM_ADMIN:
        return AlarmRule.id.is_not(None)
    if actor.audience == "enterprise":
        return AlarmRule.org_id == actor.org_id
    return AlarmRule.id.is_(None)


def list_rules(db: Session, actor: Actor) -> list[AlarmRule]:
    return list(db.execute(select(AlarmRule).where(rule_scope(actor)).order_by(AlarmRule.id)).scalars())


# A rule waits at most a week; longer durations are typing mistakes, not rules.
MAX_RULE_SECONDS = 7 * 86400


# The rule form's labels, so an error names the field as the form does (“上限”, not “value”).
PARAM_LABELS: dict[str, str] = {
    "value": N_("Limit"),
    "hysteresis": N_("Hysteresis"),
    "duration_s": N_("For at least (s)"),
    "max_per_min": N_("Max change per minute"),
    "seconds": N_("Offline after (s)"),
}


def _check_params(kind: str, metric: str | None, params: dict[str, Any]) -> dict[str, Any]:
    def need_num(key: str, positive: bool = False) -> float:
        label = Msgid(PARAM_LABELS.get(key, key))
        try:
            v = float(params[key])
        except (KeyError, TypeError, ValueError) as exc:
            raise Invalid(N_("Parameter “%(param)s” must be a number."), field=key, param=label) from exc
        if not math.isfinite(v):
            raise Invalid(N_("Parameter “%(param)s” must be a number."), field=key, param=label)
        if positive and v <= 0:
            raise Invalid(N_("Parameter “%(param)s” must be positive."), field=key, param=label)
        return v

    def need_seconds(key: str, positive: bool = False) -> float:
        v = need_num(key, positive)
        if v < 0:
            raise Invalid(N_("A duration cannot be negative (0 or more seconds)."), field=key)
        if v > MAX_RULE_SECONDS:
            raise Invalid(N_("A duration of at most %(max)s seconds (7 days)."), field=key, max=MAX_RULE_SECONDS)
        return v

    if kind in ("threshold", "rate", "state") and not metric:
        raise Invalid(N_("This kind of rule needs a metric."), field="metric")
    out: dict[str, Any] = {}
    if kind == "threshold":
        out["op"] = "<" if params.get("op") == "<" else ">"
        out["value"] = need_num("value")
        out["duration_s"] = need_seconds("duration_s") if "duration_s" in params else 0.0
        out["hysteresis"] = abs(need_num("hysteresis")) if "hysteresis" in params else 0.0
    elif kind == "rate":
        out["max_per_min"] = need_num("max_per_min", positive=True)
    elif kind == "offline":
        out["seconds"] = need_seconds("seconds", positive=True)
    elif kind == "state":
        states = params.get("states") or ["fault", "off"]
        if isinstance(states, str):
            states = [s.strip() for s in states.split(",") if s.strip()]
        out["states"] = [str(s) for s in states]
        if params.get("shift"):
            out["shift"] = params["shift"]
        out["duration_s"] = need_seconds("duration_s") if "duration_s" in params else 0.0
    return out


def create_rule(db: Session, actor: Actor, data: RuleIn) -> AlarmRule:
    from chaoyun.devices import service

    if not actor.has(DEVICES_MANAGE) or actor.audience != "enterprise":
        raise Forbidden(N_("Your role may not change alarm rules."))
    model_id = None
    metric_keys: set[str]
    if data.device_id is not None:
        device = service.get_device(db, actor, data.device_id)
        model_id = device.model_id
        metric_keys = {m.key for m in device.model.metrics}
    else:
        model = service.find_model(db, data.model or "", actor.org_id)  # catalogue or own profiles
        if model is None:
            raise Invalid(N_("Choose a device or a device model."), field="model")
        model_id = model.id
        metric_keys = {m.key for m in model.metrics}
    if data.metric and data.metric not in metric_keys:
        raise Invalid(N_("Unknown metric “%(metric)s” for this device's model."), field="metric", metric=data.metric)
    params = _check_params(data.kind, data.metric, data.params)
    rule = AlarmRule(
        org_id=actor.org_id,
        model_id=None if data.device_id else model_id,
        device_id=data.device_id,
        name=data.name,
        kind=data.kind,
        metric=data.metric if data.kind != "offline" else None,
        severity=data.severity,
        params=params,
        enabled=data.enabled,
    )
    db.add(rule)
    db.flush()
    audit.record_by(db, actor, "create", "alarm_rule", rule.id, after=_rule_snap(rule))
    db.commit()
    forget_rules()
    return rule


def _rule_snap(r: AlarmRule) -> dict[str, Any]:
    return {
        "name": r.name,
        "kind": r.kind,
        "metric": r.metric,
        "severity": r.severity,
        "params": r.params,
        "model_id": r.model_id,
        "device_id": r.device_id,
        "enabled": r.enabled,
    }


def get_rule(db: Session, actor: Actor, rule_id: int) -> AlarmRule:
    rule = db.execute(select(AlarmRule).where(AlarmRule.id == rule_id, rule_scope(actor))).scalar_one_or_none()
    if rule is None:
        raise NotFound(N_("No such alarm rule, or it is not yours to see."))
    return rule


def delete_rule(db: Session, actor: Actor, rule_id: int) -> None:
    rule = get_rule(db, actor, rule_id)
    if not actor.has(DEVICES_MANAGE):
        raise Forbidden(N_("Your role may not change alarm rules."))
    audit.record_by(db, actor, "delete", "alarm_rule", rule.id, before=_rule_snap(rule))
    db.delete(rule)
    db.commit()
    forget_rules()


def set_rule_enabled(db: Session, actor: Actor, rule_id: int, enabled: bool) -> AlarmRule:
    rule = get_rule(db, actor, rule_id)
    if not actor.has(DEVICES_MANAGE):
        raise Forbidden(N_("Your role may not change alarm rules."))
    if rule.enabled != enabled:
        rule.enabled = enabled
        audit.record_by(db, actor, "update", "alarm_rule", rule.id, after={"enabled": enabled})
    db.commit()
    forget_rules()
    return rule


# ---------------------------------------------------------------- webhooks


def webhook_scope(actor: Actor) -> Any:
    if actor.role == Role.PLATFORM_ADMIN:
        return Webhook.id.is_not(None)
    if actor.audience == "enterprise":
        return Webhook.org_id == actor.org_id
    return Webhook.id.is_(None)


def list_webhooks(db: Session, actor: Actor) -> list[Webhook]:
    return list(db.execute(select(Webhook).where(webhook_scope(actor)).order_by(Webhook.id)).scalars())


def create_webhook(db: Session, actor: Actor, data: WebhookIn) -> Webhook:
    if not actor.has(DEVICES_MANAGE) or actor.audience != "enterprise":
        raise Forbidden(N_("Your role may not change webhooks."))
    outbound.resolve(data.url)  # refuses internal addresses (checked again at every delivery)
    hook = Webhook(org_id=actor.org_id, name=data.name, url=data.url, secret=secrets.token_hex(16))
    db.add(hook)
    db.flush()
    audit.record_by(db, actor, "create", "webhook", hook.id, after={"name": hook.name, "url": hook.url})
    db.commit()
    return hook


def get_webhook(db: Session, actor: Actor, webhook_id: int) -> Webhook:
    hook = db.execute(select(Webhook).where(Webhook.id == webhook_id, webhook_scope(actor))).scalar_one_or_none()
    if hook is None:
        raise NotFound(N_("No such webhook, or it is not yours to see."))
    return hook


def delete_webhook(db: Session, actor: Actor, webhook_id: int) -> None:
    hook = get_webhook(db, actor, webhook_id)
    if not actor.has(DEVICES_MANAGE):
        raise Forbidden(N_("Your role may not change webhooks."))
    audit.record_by(db, actor, "delete", "webhook", hook.id, before={"name": hook.name, "url": hook.url})
    db.delete(hook)
    db.commit()


def alarm_payload(alarm: Alarm, event: str) -> dict[str, Any]:
    def iso(dt: datetime | None) -> str | None:
        return dt.isoformat() if dt else None

    return {
        "event": event,
        "alarm": {
            "id": alarm.id,
            "device_id": alarm.device_id,
            "device_uid": alarm.device.uid if alarm.device else None,
            "device_name": alarm.device.name if alarm.device else None,
            "kind": alarm.kind,
            "severity": alarm.severity,
            "metric": alarm.metric,
            "status": alarm.status,
            "message": alarm.message,
            "value": alarm.value,
            "started_at": iso(alarm.started_at),
            "acknowledged_at": iso(alarm.acknowledged_at),
            "acknowledged_by": alarm.acknowledged_by,
            "cleared_at": iso(alarm.cleared_at),
            "cleared_by": alarm.cleared_by,
        },
    }


def _queue(db: Session, alarm: Alarm, event: str, hook_ids: list[int] | None = None) -> None:
    """Webhook deliveries of an alarm event; ``hook_ids``: the enterprise's enabled webhooks, if already known."""
    if hook_ids is None:
        hook_ids = list(
            db.execute(select(Webhook.id).where(Webhook.org_id == alarm.org_id, Webhook.enabled.is_(True))).scalars()
        )
    ids = hook_ids
    if not ids:
        return
    if alarm.device is None:
        db.flush()
        db.refresh(alarm, ["device"])
    payload = alarm_payload(alarm, event)
    for hid in ids:
        db.add(WebhookDelivery(webhook_id=hid, alarm_id=alarm.id, event=event, payload=payload))


def post_json(url: str, secret: str, payload: dict[str, Any], timeout: float = 5.0, key: str = "") -> bool:
    """Signed POST through chaoyun.devices.outbound (public addresses only, pinned, no redirects).
    Only delivered / not delivered comes back; the reason is in the server log."""
    body = json.dumps(payload, ensure_ascii=False, default=str).encode()
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "User-Agent": "chaoyun-webhook/1",
        "X-Chaoyun-Event": str(payload.get("event", "")),
        "X-Chaoyun-Signature": f"sha256={sig}",
    }
    if key:  # the same for every attempt of one delivery: receivers drop what they already have
        headers["Idempotency-Key"] = key
    return outbound.post(url, body, headers, timeout=timeout)


def deliver_pending(db: Session, now: datetime | None = None, limit: int = 100) -> tuple[int, int]:
    """Send due deliveries; failures are retried after 10 s, 20 s, 40 s ... up to MAX_ATTEMPTS.
    Returns (sent, failed attempts)."""
    now = now or utcnow()
    due = list(
        db.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.id)
            .limit(limit)
        ).scalars()
    )
    sent = failed = 0
    for d in due:
        hook = db.get(Webhook, d.webhook_id)
        if hook is None or not hook.enabled:
            d.status = "failed"
            d.last_error = "webhook removed or disabled"
            continue
        # Claimed by one worker (chaoyun/jobs runs this in any number of processes): a compare-and-set moves the
        # next attempt past the claim; a worker that dies mid-post leaves it to be sent again after CLAIM_S, with
        # the same Idempotency-Key so the receiver can drop the duplicate.
        claim = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id == d.id, WebhookDelivery.status == "pending")
            .where(WebhookDelivery.next_attempt_at <= now)
            .values(next_attempt_at=now + timedelta(seconds=CLAIM_S))
        )
        if not db.execute(claim).rowcount:  # type: ignore[attr-defined]
            db.commit()
            continue
        db.commit()
        ok = post_json(hook.url, hook.secret, d.payload, key=f"chaoyun-delivery-{d.id}")
        d.attempts += 1
        # No status codes or error texts here (users see this log); details are in the server log.
        d.last_error = "" if ok else "not delivered"
        if ok:
            d.status = "sent"
            d.sent_at = utcnow()
            sent += 1
        else:
            failed += 1
            if d.attempts >= MAX_ATTEMPTS:
                d.status = "failed"
            else:
                d.next_attempt_at = now + timedelta(seconds=10 * 2 ** (d.attempts - 1))
        db.commit()
    db.commit()
    return sent, failed


def test_webhook(db: Session, actor: Actor, webhook_id: int) -> bool:
    """Send a test event; only delivered / not delivered is told (no status codes or errors: the button
    must not work as a port scanner)."""
    hook = get_webhook(db, actor, webhook_id)
    if not actor.has(DEVICES_MANAGE):
        raise Forbidden(N_("Your role may not change webhooks."))
    payload = {"event": "test", "org_id": hook.org_id, "sent_at": utcnow().isoformat()}
    return post_json(hook.url, hook.secret, payload)


# ---------------------------------------------------------------- background


def _in_session(fn: Callable[[Session], Any]) -> Any:
    from chaoyun.db import get_sessionmaker

    with get_sessionmaker()() as db:
        return fn(db)


def _loop(fn: Callable[[Session], Any], every_s: float) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        while True:
            try:
                await asyncio.to_thread(_in_session, fn)
            except Exception:  # a failing pass must not end the loop; the next one retries
                log.exception("periodic devices task %s failed", getattr(fn, "__name__", fn))
            await asyncio.sleep(every_s)

    return run


def _retention(db: Session) -> None:
    from chaoyun.devices import service

    service.apply_retention(db)
    service.prune_rejections(db)


def periodic_tasks() -> list[Callable[[], Coroutine[Any, Any, None]]]:
    """Background jobs of this module (included by chaoyun/devices/background.py): offline checks every
    15 s, webhook deliveries every 5 s, retention every 6 h."""
    return [_loop(check_offline, 15), _loop(deliver_pending, 5), _loop(_retention, 6 * 3600)]
