"""Condition monitoring service: which machines are monitored, their telemetry in windows per operating state,
fitting the baseline (registry), scoring new windows, the health-index RUL, alarms and predictive orders.

Flow for one machine (``score_device``, run by the background job every minute and by the demo):
1. no anomaly model yet and ``BASELINE_H`` hours of history since monitoring started → fit one on that healthy
   window (registry version 1; "retrain" adds a version on a window the admin chooses);
2. each complete 10-minute window after the last scored one: per-signal z against its state's baseline, the
   score (largest |z|), the health index (largest positive z of the wear signals: vibration, temperatures);
3. ``PERSIST`` anomalous windows in a row raise an alarm on the device through the devices alarm service,
   naming the deviating signals ("振动 +4.2σ, 油温 +3.1σ"); ``CLEAR`` normal windows clear it;
4. hourly: RUL from the health index's linear trend over the last ``TREND_H`` hours to the end-of-life level
   (``EOL_SIGMA``), with a 90 % interval from the slope's standard error;
5. an anomaly lasting ``ORDER_AFTER_H`` hours, or an RUL whose upper bound is under ``ORDER_RUL_H``, opens a
   predictive maintenance order (idempotent: one open order per machine and source).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance import service as maintenance
from chaoyun.apps.maintenance.predict import anomaly
from chaoyun.apps.maintenance.predict.models import DeviceHealth, HealthPoint, PredictModel
from chaoyun.apps.maintenance.predict.permissions import PREDICT_MANAGE, PREDICT_READ
from chaoyun.db import utcnow
from chaoyun.devices import alarms
from chaoyun.devices.models import Device, MetricDef
from chaoyun.devices.profiles import service as profiles
from chaoyun.devices.store import get_store, to_ms
from chaoyun.errors import Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.permissions import Actor

log = logging.getLogger(__name__)

BASELINE_H = 24.0
TREND_H = 48.0
EOL_SIGMA = 8.0
ORDER_AFTER_H = 4.0
ORDER_RUL_H = 72.0
MAX_WINDOWS_PER_PASS = 2000
SKIP_ROLES = {"state", "cycle_counter", "good_count", "reject_count", "energy", "setpoint"}
WEAR_ROLES = {"vibration", "temperature"}


# ---------------------------------------------------------------- scope


def _org(actor: Actor) -> int:
    if actor.audience != "enterprise" or not actor.has(PREDICT_READ) or actor.org_id is None:
        raise Forbidden(N_("Machine health is for the enterprise's own people."))
    return actor.org_id


def get_machine(db: Session, actor: Actor, device_id: int) -> Device:
    org = _org(actor)
    d = db.execute(select(Device).where(Device.id == device_id, Device.org_id == org)).scalar_one_or_none()
    if d is None:
        raise NotFound(N_("No such device, or it is not yours to see."))
    return d


# ---------------------------------------------------------------- signals and windows


def signals_of(profile: Any) -> list[MetricDef]:
    """The numeric process signals a machine's health is read from (not states, counters, energy, setpoints)."""
    out = []
    for m in profile.metrics:
        if m.type not in ("numeric", "number") or m.writable or m.deprecated or m.derived:
            continue
        if (m.role or "") in SKIP_ROLES or m.key in ("power", "run_hours"):
            continue
        out.append(m)
    return out


def signal_names(db: Session, device: Device) -> dict[str, str]:
    profile = profiles.profile_for_device(db, device.id)
    from chaoyun.i18n import get_locale

    en = get_locale() == "en"
    return {m.key: (m.name_en if en else m.name_zh) for m in signals_of(profile)}


@dataclass
class Window:
    end: datetime
    state: str
    values: dict[str, float]


def windows(
    db: Session, device: Device, start: datetime, end: datetime, window_min: int = anomaly.WINDOW_MIN
) -> list[Window]:
    """Complete windows in [start, end): each signal's mean over the points taken in the window's dominant state."""
    profile = profiles.profile_for_device(db, device.id)
    sigs = [m.key for m in signals_of(profile)]
    state_key = profiles.roles_of(profile).get("state") or "state"
    store = get_store()
    w_ms = window_min * 60_000
    s_ms = to_ms(start) // w_ms * w_ms
    n = (to_ms(end) - s_ms) // w_ms
    if n <= 0 or not sigs:
        return []
    e_ms = s_ms + n * w_ms
    s_dt, e_dt = _dt(s_ms), _dt(e_ms)
    st_rows = store.raw(device.id, "state", s_dt - timedelta(minutes=30), e_dt)
    if not st_rows and state_key != "state":
        st_rows = store.raw(device.id, state_key, s_dt - timedelta(minutes=30), e_dt)
    st_ts = np.array([to_ms(t) for t, _v, _x in st_rows], dtype=np.int64)
    st_val = [str(x if x is not None else profiles.state_of(profile, v)) for _t, v, x in st_rows]
    sums: dict[tuple[int, str, str], list[float]] = {}
    counts: dict[tuple[int, str], int] = {}
    for key in sigs:
        rows = store.raw(device.id, key, s_dt, e_dt)
        if not rows:
            continue
        ts = np.array([to_ms(t) for t, _v, _x in rows], dtype=np.int64)
        vals = np.array([v if v is not None else math.nan for _t, v, _x in rows], float)
        idx = np.searchsorted(st_ts, ts, side="right") - 1
        widx = (ts - s_ms) // w_ms
        for i in range(len(ts)):
            if not math.isfinite(vals[i]):
                continue
            state = st_val[idx[i]] if idx[i] >= 0 and st_val else "running"
            acc = sums.setdefault((int(widx[i]), state, key), [0.0, 0.0])
            acc[0] += vals[i]
            acc[1] += 1
            if key == sigs[0] or (int(widx[i]), state) not in counts:
                counts[(int(widx[i]), state)] = counts.get((int(widx[i]), state), 0) + 1
    dominant: dict[int, tuple[str, int]] = {}
    for (wi, state), c in counts.items():
        if wi not in dominant or c > dominant[wi][1]:
            dominant[wi] = (state, c)
    out = []
    for wi in sorted(dominant):
        state = dominant[wi][0]
        vals_w = {k: acc[0] / acc[1] for (w2, s2, k), acc in sums.items() if w2 == wi and s2 == state and acc[1]}
        if vals_w:
            out.append(Window(_dt(s_ms + (wi + 1) * w_ms), state, vals_w))
    return out


def _dt(ms: int) -> datetime:
    from chaoyun.devices.store import from_ms

    return from_ms(int(ms))


# ---------------------------------------------------------------- registry


def _next_version(db: Session, device_id: int, kind: str) -> int:
    v = db.execute(
        select(func.max(PredictModel.version)).where(PredictModel.device_id == device_id, PredictModel.kind == kind)
    ).scalar()
    return int(v or 0) + 1


def register(
    db: Session,
    org_id: int,
    device_id: int | None,
    kind: str,
    algorithm: str,
    training: dict[str, Any],
    params: dict[str, Any],
    metrics: dict[str, Any],
    artifact: str,
    who: str = "system",
) -> PredictModel:
    """Add a model version and make it the active one of its device and kind."""
    if device_id is not None:
        db.execute(
            update(PredictModel)
            .where(PredictModel.device_id == device_id, PredictModel.kind == kind)
            .values(active=False)
        )
    m = PredictModel(
        org_id=org_id,
        device_id=device_id,
        kind=kind,
        version=_next_version(db, device_id or 0, kind) if device_id else 1,
        active=True,
        algorithm=algorithm,
        training=training,
        params=params,
        metrics=metrics,
        artifact=artifact,
        created_by=who,
    )
    db.add(m)
    db.flush()
    return m


def active_model(db: Session, device_id: int, kind: str) -> PredictModel | None:
    return (
        db.execute(
            select(PredictModel).where(
                PredictModel.device_id == device_id, PredictModel.kind == kind, PredictModel.active.is_(True)
            )
        )
        .scalars()
        .first()
    )


def list_models(db: Session, actor: Actor) -> list[PredictModel]:
    org = _org(actor)
    return list(
        db.execute(
            select(PredictModel)
            .where(PredictModel.org_id == org)
            .order_by(PredictModel.device_id, PredictModel.kind, PredictModel.version.desc())
        ).scalars()
    )


def fit_baseline(db: Session, device: Device, start: datetime, end: datetime, who: str = "system") -> PredictModel:
    """Fit the anomaly model on [start, end) (a window the machine was healthy in) and register it."""
    ws = windows(db, device, start, end)
    profile = profiles.profile_for_device(db, device.id)
    sigs = [m.key for m in signals_of(profile)]
    model = anomaly.fit([(w.state, w.values) for w in ws], sigs)
    if not model.states:
        raise Invalid(
            N_(
                "Not enough data in the baseline window to learn the machine's healthy behaviour "
                "(at least %(n)s windows of %(m)s minutes in one state)."
            ),
            n=anomaly.MIN_BASELINE,
            m=anomaly.WINDOW_MIN,
        )
    training = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "windows": len(ws),
        "states": {k: v.windows for k, v in model.states.items()},
        "signals": sigs,
    }
    params = {
        "method": "robust z (median, 1.4826 MAD)",
        "window_min": model.window_min,
        "threshold_sigma": model.threshold,
        "persist_windows": model.persist,
    }
    reg = register(
        db,
        device.org_id,
        device.id,
        "anomaly",
        "robust_z",
        training,
        params,
        {"baseline_windows": len(ws)},
        json.dumps(model.to_json()),
        who,
    )
    health = _health(db, device)
    health.anomaly_model_id = reg.id
    health.scored_until = max(health.scored_until or end, end)
    return reg


# ---------------------------------------------------------------- monitoring


def _health(db: Session, device: Device) -> DeviceHealth:
    h = db.get(DeviceHealth, device.id)
    if h is None:
        h = DeviceHealth(device_id=device.id, org_id=device.org_id, signals={}, anomalous=False, updated_at=utcnow())
        db.add(h)
        db.flush()
    return h


def start_monitoring(db: Session, actor: Actor, device_id: int, since: datetime | None = None) -> DeviceHealth:
    if not actor.has(PREDICT_MANAGE):
        raise Forbidden(N_("Your role may not change condition monitoring."))
    device = get_machine(db, actor, device_id)
    h = enable(db, device, since)
    # Audited as a change of the device (the audit labels have no predictive-maintenance object type yet).
    audit.record_by(
        db,
        actor,
        "update",
        "device",
        device.id,
        after={"predictive_monitoring_since": (since or h.updated_at).isoformat()},
    )
    db.commit()
    return h


def enable(db: Session, device: Device, since: datetime | None = None) -> DeviceHealth:
    """Monitor a machine: its baseline is the first BASELINE_H hours from ``since`` (default: now)."""
    h = _health(db, device)
    if h.scored_until is None:
        h.scored_until = since or utcnow()
    h.updated_at = since or utcnow()
    return h


def retrain(db: Session, actor: Actor, device_id: int, start: datetime, end: datetime) -> PredictModel:
    if not actor.has(PREDICT_MANAGE):
        raise Forbidden(N_("Your role may not change condition monitoring."))
    if end <= start or end - start < timedelta(hours=4):
        raise Invalid(N_("The baseline window must be at least 4 hours long."), field="end")
    device = get_machine(db, actor, device_id)
    m = fit_baseline(db, device, start, end, actor.user.username)
    audit.record_by(db, actor, "update", "device", device.id, after={"anomaly_baseline": m.id, "version": m.version})
    db.commit()
    return m


def monitored(db: Session, org_id: int | None = None) -> list[DeviceHealth]:
    q = select(DeviceHealth)
    if org_id is not None:
        q = q.where(DeviceHealth.org_id == org_id)
    return list(db.execute(q).scalars())


def score_device(db: Session, device: Device, now: datetime | None = None) -> int:
    """Fit when due, score the complete windows since the last pass, keep alarm, RUL and order up to date.
    Returns the number of windows scored."""
    now = now or utcnow()
    h = _health(db, device)
    if h.scored_until is None:
        return 0
    am = db.get(PredictModel, h.anomaly_model_id) if h.anomaly_model_id else None
    if am is None:
        start = h.scored_until
        if now - start < timedelta(hours=BASELINE_H):
            return 0
        try:
            am = fit_baseline(db, device, start, start + timedelta(hours=BASELINE_H))
        except Invalid:
            h.scored_until = start + timedelta(hours=1)  # not enough data yet: slide the baseline on
            return 0
    model = anomaly.AnomalyModel.from_json(json.loads(am.artifact))
    w_min = model.window_min
    end = min(now, h.scored_until + timedelta(minutes=w_min * MAX_WINDOWS_PER_PASS))
    ws = windows(db, device, h.scored_until, end, w_min)
    if not ws:
        complete = _dt(to_ms(end) // (w_min * 60_000) * (w_min * 60_000))
        if complete > h.scored_until:
            h.scored_until = complete
        return 0
    names = signal_names(db, device)
    profile = profiles.profile_for_device(db, device.id)
    wear = {
        m.key for m in signals_of(profile) if (m.role or "") in WEAR_ROLES or "vibration" in m.key or "temp" in m.key
    }
    # An anomaly clears after CLEAR normal windows *in the state it was seen in*: a machine switched off for the
    # night is not a recovered machine.
    last_bad = (
        db.execute(
            select(HealthPoint)
            .where(HealthPoint.device_id == device.id, HealthPoint.score > model.threshold)
            .order_by(HealthPoint.ts.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )
    bad_state = last_bad.state if last_bad is not None else None
    streak_normal = anomaly.CLEAR
    if last_bad is not None:
        streak_normal = int(
            db.execute(
                select(func.count())
                .select_from(HealthPoint)
                .where(
                    HealthPoint.device_id == device.id,
                    HealthPoint.ts > last_bad.ts,
                    HealthPoint.state == bad_state,
                    HealthPoint.score.is_not(None),
                )
            ).scalar()
            or 0
        )
    points = []
    for w in ws:
        z = model.deviations(w.state, w.values)
        if z is None:
            points.append(HealthPoint(device_id=device.id, ts=w.end, state=w.state, score=None, signals={}))
            continue
        score = anomaly.AnomalyModel.score(z)
        points.append(
            HealthPoint(
                device_id=device.id,
                ts=w.end,
                state=w.state,
                score=round(score, 3),
                signals={k: round(v, 2) for k, v in z.items()},
            )
        )
        if score > model.threshold:
            if h.alarm_id is None and w.state != bad_state:
                h.anomaly_since = None  # a breach is a run of anomalous windows of one operating state
            streak_normal, bad_state = 0, w.state
            if h.anomaly_since is None:
                h.anomaly_since = w.end - timedelta(minutes=w_min)
            persisted = (w.end - h.anomaly_since) >= timedelta(minutes=w_min * model.persist)
            h.signals = {k: round(v, 2) for k, v in z.items()}
            if persisted and h.alarm_id is None:
                h.anomalous = True
                # The alarm describes the breach, not its last window: each signal's mean z over the breach's
                # windows (a one-window spike of another signal does not take over the message).
                since = h.anomaly_since
                breach = [
                    p.signals
                    for p in points
                    if p.score is not None and since is not None and p.ts > since and p.state == w.state
                ]
                mean_z = {k: sum(b.get(k, 0.0) for b in breach) / len(breach) for k in z} if breach else z
                h.alarm_id = raise_anomaly_alarm(db, device, mean_z, names, model.threshold, w.end)
        elif w.state == bad_state:
            streak_normal += 1
            if h.alarm_id is None:
                h.anomaly_since = None  # the breach ended before it persisted
            elif streak_normal >= anomaly.CLEAR:
                alarms.clear_alarm(db, h.alarm_id, w.end, "system")
                h.anomaly_since, h.alarm_id, h.anomalous = None, None, False
        h.score = round(score, 3)
    db.execute(
        delete(HealthPoint).where(
            HealthPoint.device_id == device.id, HealthPoint.ts > h.scored_until, HealthPoint.ts <= ws[-1].end
        )
    )
    db.add_all(points)
    h.scored_until = ws[-1].end
    h.updated_at = now
    db.flush()
    # RUL hourly (and at the newest window): the trend chart shows how it moved.
    for w in ws:
        if w is ws[-1] or (w.end.minute < w_min and w.end.second == 0):
            _update_rul(db, device, h, wear, w.end)
    _maybe_order(db, device, h, names, ws[-1].end)
    return len(ws)


def health_index(signals: dict[str, float], wear: set[str]) -> float | None:
    vals = [v for k, v in signals.items() if k in wear]
    return max(0.0, max(vals)) if vals else None


def _update_rul(db: Session, device: Device, h: DeviceHealth, wear: set[str], at: datetime) -> None:
    rm = active_model(db, device.id, "health_rul")
    if rm is None:
        rm = register(
            db,
            device.org_id,
            device.id,
            "health_rul",
            "linear_trend",
            {"signals": sorted(wear), "source": "anomaly z of the wear signals"},
            {"eol_sigma": EOL_SIGMA, "trend_h": TREND_H, "interval": "90 % from the slope's standard error"},
            {},
            "",
        )
        h.rul_model_id = rm.id
    eol = float(rm.params.get("eol_sigma", EOL_SIGMA))
    trend_h = float(rm.params.get("trend_h", TREND_H))
    rows = db.execute(
        select(HealthPoint.ts, HealthPoint.signals).where(
            HealthPoint.device_id == device.id,
            HealthPoint.ts > at - timedelta(hours=trend_h),
            HealthPoint.ts <= at,
            HealthPoint.score.is_not(None),
        )
    ).all()
    t, y = [], []
    for ts, sig in rows:
        hi = health_index(sig or {}, wear)
        if hi is not None:
            t.append((ts - at).total_seconds() / 3600)
            y.append(hi)
    res = rul_from_trend(np.array(t), np.array(y), eol)
    h.rul_h, h.rul_lo_h, h.rul_hi_h = res
    last = db.get(HealthPoint, (device.id, at))
    if last is not None:
        last.rul_h, last.rul_lo_h, last.rul_hi_h = res


def rul_from_trend(
    t_h: np.ndarray, hi: np.ndarray, eol: float, z90: float = 1.645
) -> tuple[float | None, float | None, float | None]:
    """Hours until the linear trend of the health index reaches ``eol``, with a 90 % interval from the slope's
    standard error. None when there are too few points or no rising trend (nothing to extrapolate)."""
    if len(t_h) < 12 or float(np.ptp(t_h)) < 6:
        return None, None, None
    a, b = np.polyfit(t_h, hi, 1)  # hi = a t + b; t = 0 now
    resid = hi - (a * t_h + b)
    se = float(np.sqrt((resid**2).sum() / max(1, len(t_h) - 2) / ((t_h - t_h.mean()) ** 2).sum()))
    if a <= 0 or (a - z90 * se <= 0 and a < 3 * se):
        return None, None, None
    now_level = max(0.0, float(b))
    if now_level >= eol:
        return 0.0, 0.0, 0.0
    cap = 24 * 90.0

    def cross(slope: float) -> float:
        return min(cap, (eol - now_level) / slope) if slope > 0 else cap

    return round(cross(a), 1), round(cross(a + z90 * se), 1), round(cross(a - z90 * se), 1)


# ---------------------------------------------------------------- alarms and orders


def raise_anomaly_alarm(
    db: Session, device: Device, z: dict[str, float], names: dict[str, str], threshold: float, ts: datetime
) -> int:
    """An alarm on the device through the devices alarm service, naming the deviating signals and their size.

    The devices context has no public function for alarms raised by an analysis rather than by an alarm rule
    (reported to the lead): this passes an unsaved rule to its alarm constructor, so the alarm row, webhooks and
    the ``alarm.raised`` event are the devices context's own. Severity ``minor``: an early warning, which the
    maintenance app's corrective-order hook leaves alone (a predictive order is opened here instead)."""
    text = anomaly.summary(z, names, threshold)
    top = max(z, key=lambda k: abs(z[k]))
    alarm = alarms.raise_from_analysis(
        db,
        device,
        name="异常检测 / anomaly detection",
        metric=top,
        severity="minor",
        value=round(z[top], 2),
        text=f"异常 {text}",
        details={
            "state": f"异常 {text}",
            "source": "predict.anomaly",
            "signals": {k: round(v, 2) for k, v in z.items()},
        },
        ts=ts,
    )
    return alarm.id


def _maybe_order(db: Session, device: Device, h: DeviceHealth, names: dict[str, str], at: datetime) -> None:
    reason = None
    if h.anomaly_since is not None and at - h.anomaly_since >= timedelta(hours=ORDER_AFTER_H):
        reason = (
            "anomaly",
            f"异常持续 {((at - h.anomaly_since).total_seconds() / 3600):.0f} 小时: "
            + anomaly.summary(h.signals or {}, names, anomaly.THRESHOLD),
        )
    elif h.rul_hi_h is not None and h.rul_hi_h < ORDER_RUL_H:
        reason = ("rul", f"预测剩余寿命 {h.rul_h:.0f} 小时 (90% 区间 {h.rul_lo_h:.0f}–{h.rul_hi_h:.0f})")
    if reason is None:
        return
    h.order_id = create_order(db, device, reason[0], reason[1], at)


def create_order(db: Session, device: Device, source: str, detail: str, at: datetime) -> int:
    due = at + timedelta(
        hours=max(4.0, min(ORDER_RUL_H, (db.get(DeviceHealth, device.id) or DeviceHealth()).rul_lo_h or ORDER_RUL_H))
    )
    order = maintenance.create_work_order(
        db,
        None,
        device.org_id,
        device.id,
        "predictive",
        f"预测性维护: {device.name}",
        detail,
        due,
        f"predict:{device.id}",
        commit=False,
    )
    return int(order.id)


# ---------------------------------------------------------------- reading


def latest_health(db: Session, actor: Actor) -> list[tuple[Device, DeviceHealth | None]]:
    org = _org(actor)
    devices = list(db.execute(select(Device).where(Device.org_id == org).order_by(Device.name)).scalars())
    health = {h.device_id: h for h in monitored(db, org)}
    return [(d, health.get(d.id)) for d in devices]


def history(db: Session, device_id: int, start: datetime, end: datetime, limit: int = 5000) -> list[HealthPoint]:
    return list(
        db.execute(
            select(HealthPoint)
            .where(HealthPoint.device_id == device_id, HealthPoint.ts >= start, HealthPoint.ts <= end)
            .order_by(HealthPoint.ts)
            .limit(limit)
        ).scalars()
    )


def health_of(db: Session, device_id: int) -> DeviceHealth | None:
    return db.get(DeviceHealth, device_id)


def run_pass(db: Session, org_id: int | None = None, now: datetime | None = None) -> int:
    """Score every monitored machine once (the background job's body). Returns windows scored."""
    n = 0
    for h in monitored(db, org_id):
        device = db.get(Device, h.device_id)
        if device is None or not device.enabled:
            continue
        try:
            n += score_device(db, device, now)
            db.commit()
        except Exception:
            db.rollback()
            log.exception("scoring device %s failed", h.device_id)
    return n
