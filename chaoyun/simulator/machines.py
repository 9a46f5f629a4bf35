"""Virtual machines: a state machine (running / idle / setup / fault / off), counters, process values with
noise, slow wear that raises vibration, temperatures and cycle time and makes faults likelier, and
random faults that are repaired (wear partly reset). Deterministic for a given uid and start time.

Setpoints (the models' writable metrics) can be changed (``set_setpoint``, what a write-back command does):
the process value they govern moves to the new level with a first-order lag (barrel and seal temperatures,
outlet pressure, knitting speed), and speed / feed override change the cycle rate."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from chaoyun.simulator import degrading

CHINA = timezone(timedelta(hours=8))

# Process values per model: metric -> (running level, idle level, noise sd, added at full wear).
PROFILES: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "injection_moulding": {
        "cycle_time": (30.0, 0.0, 0.6, 6.0),
        "barrel_temp": (220.0, 212.0, 1.2, 12.0),
        "mould_temp": (60.0, 52.0, 0.8, 4.0),
        "injection_pressure": (120.0, 0.0, 3.0, 12.0),
        "oil_temp": (45.0, 40.0, 0.4, 12.0),
        "vibration": (2.4, 0.4, 0.25, 6.0),
    },
    "circular_knitting": {
        "speed": (25.0, 0.0, 0.3, -2.0),
        "yarn_tension": (12.0, 4.0, 0.8, 6.0),
        "motor_temp": (55.0, 38.0, 0.6, 15.0),
        "vibration": (1.8, 0.3, 0.2, 5.0),
    },
    "sewing_line": {
        "operators": (24.0, 6.0, 0.8, 0.0),
        "wip": (180.0, 150.0, 12.0, 60.0),
        "stitch_speed": (3200.0, 0.0, 150.0, -400.0),
    },
    "cnc": {
        "spindle_speed": (8000.0, 0.0, 60.0, 0.0),
        "spindle_load": (45.0, 2.0, 4.0, 25.0),
        "spindle_temp": (38.0, 28.0, 0.5, 14.0),
        "coolant_temp": (24.0, 22.0, 0.3, 4.0),
        "vibration": (1.5, 0.2, 0.15, 5.0),
    },
    "air_compressor": {
        "outlet_pressure": (7.2, 7.4, 0.08, -0.6),
        "discharge_temp": (82.0, 60.0, 0.8, 14.0),
        "load_ratio": (78.0, 5.0, 4.0, 10.0),
        "flow": (12.0, 0.5, 0.4, -1.5),
        "motor_current": (160.0, 30.0, 5.0, 20.0),
        "vibration": (2.8, 0.8, 0.2, 4.0),
    },
    "packaging": {
        "speed": (50.0, 0.0, 1.5, -6.0),
        "seal_temp": (180.0, 170.0, 1.0, 8.0),
        "film_tension": (40.0, 15.0, 1.5, 10.0),
        "vibration": (1.6, 0.3, 0.2, 4.0),
    },
}
RATED_KW = {
    "injection_moulding": 45.0,
    "circular_knitting": 7.5,
    "sewing_line": 18.0,
    "cnc": 22.0,
    "air_compressor": 90.0,
    "packaging": 9.0,
}
SETPOINTS = {
    "barrel_temp_sp": 220.0,
    "speed_sp": 25.0,
    "feed_override": 100.0,
    "pressure_sp": 7.5,
    "seal_temp_sp": 180.0,
}
# Process value governed by each setpoint: its levels in PROFILES (made for the default setpoint) move by the
# difference between the setpoint and its default (or scale with it, for the speeds).
FOLLOWS = {
    "barrel_temp_sp": "barrel_temp",
    "seal_temp_sp": "seal_temp",
    "pressure_sp": "outlet_pressure",
    "speed_sp": "speed",
}
SCALED = {"speed_sp", "feed_override"}  # levels and cycle rate scale with setpoint / default
SCALES_LOAD = {"feed_override": "spindle_load"}
# Time constant (s) with which a governed value approaches its new level (heating a barrel is slow).
LAG_S = {"barrel_temp": 90.0, "seal_temp": 45.0, "outlet_pressure": 20.0, "speed": 6.0}
# Mean dwell times in seconds.
MEAN_RUN = 40 * 60
MEAN_IDLE = 6 * 60
MEAN_SETUP = 20 * 60
MEAN_REPAIR = 15 * 60
MEAN_FAULT_FREE = 10 * 3600  # when new; halves at full wear
WEAR_PER_RUN_HOUR = 1 / (24 * 20)  # full wear after ~20 running days


@dataclass
class Machine:
    uid: str
    model: str
    ideal_cycle_s: float | None
    metrics: set[str]
    rng: random.Random = field(init=False)
    state: str = "running"
    wear: float = 0.0
    cycles: float = 0.0
    good: float = 0.0
    reject: float = 0.0
    energy: float = 0.0
    run_hours: float = 0.0
    single_shift: bool = False
    last: dict[str, float] = field(default_factory=dict)
    setpoints: dict[str, float] = field(default_factory=dict)
    lagged: dict[str, float] = field(default_factory=dict)
    degrade_from: datetime | None = None  # a degrading machine's onset (chaoyun.simulator.degrading)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"chaoyun-sim-{self.uid}")
        r = self.rng
        self.wear = r.uniform(0.0, 0.6)
        self.cycles = float(r.randint(50_000, 900_000))
        self.reject = float(int(self.cycles * r.uniform(0.005, 0.02)))
        self.good = self.cycles - self.reject
        self.energy = float(r.randint(20_000, 800_000))
        self.run_hours = float(r.randint(2_000, 30_000))
        self.single_shift = r.random() < 0.4
        self.state = r.choices(["running", "idle", "setup"], [0.75, 0.2, 0.05])[0]
        self.setpoints = {k: v for k, v in SETPOINTS.items() if k in self.metrics}

    # ------------------------------------------------------------ setpoints (write-back)

    def set_setpoint(self, key: str, value: object) -> float:
        """Apply a write-back; raises ValueError (with the reason) for anything the machine would refuse."""
        from chaoyun.devices import catalog

        if key not in self.setpoints:
            raise ValueError(f"{key} is not a setpoint of this machine")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("the value must be a number")
        try:
            v = float(value)
        except ValueError:
            raise ValueError("the value must be a number") from None
        spec = next((m for m in catalog.spec(self.model).metrics if m.key == key), None)
        lo = spec.min if spec and spec.min is not None else -math.inf
        hi = spec.max if spec and spec.max is not None else math.inf
        if not (lo <= v <= hi):  # also refuses NaN
            raise ValueError(f"{v:g} is outside the range {lo:g} to {hi:g}")
        self.setpoints[key] = v
        return v

    def _levels(self, key: str, run_v: float, idle_v: float) -> tuple[float, float]:
        for sp_key, followed in FOLLOWS.items():
            if followed == key and sp_key in self.setpoints:
                sp, default = self.setpoints[sp_key], SETPOINTS[sp_key]
                if sp_key in SCALED:
                    return run_v * sp / default, idle_v * sp / default
                return run_v + (sp - default), idle_v + (sp - default) if idle_v else idle_v
        for sp_key, scaled in SCALES_LOAD.items():
            if scaled == key and sp_key in self.setpoints:
                return run_v * self.setpoints[sp_key] / SETPOINTS[sp_key], idle_v
        return run_v, idle_v

    def _rate(self) -> float:
        """Cycles per ideal cycle: speed and feed override make the machine faster or slower."""
        rate = 1.0
        for key in SCALED:
            if key in self.setpoints:
                rate *= max(0.0, self.setpoints[key]) / SETPOINTS[key]
        return rate

    # ------------------------------------------------------------ state machine

    def _scheduled_off(self, now: datetime) -> bool:
        if self.model in ("air_compressor", "energy_meter"):
            return False
        h = now.astimezone(CHINA).hour
        return self.single_shift and (h >= 22 or h < 7)

    def _transition(self, now: datetime, dt: float) -> None:
        r = self.rng
        if self._scheduled_off(now):
            self.state = "off"
            return
        if self.state == "off":
            self.state = "setup"
            return

        def happens(mean_s: float) -> bool:
            return r.random() < 1 - math.exp(-dt / mean_s)

        if self.state == "running":
            if happens(MEAN_FAULT_FREE * (1 - 0.5 * self.wear)):
                self.state = "fault"
            elif happens(MEAN_RUN):
                self.state = "idle"
        elif self.state == "idle":
            if happens(MEAN_IDLE):
                self.state = "setup" if r.random() < 0.1 else "running"
        elif self.state == "setup":
            if happens(MEAN_SETUP):
                self.state = "running"
        elif self.state == "fault" and happens(MEAN_REPAIR):
            self.state = "running"
            self.wear *= 0.3  # the repair replaces worn parts

    # ------------------------------------------------------------ values

    def step(self, now: datetime, dt: float) -> dict[str, Any]:
        """Advance by dt seconds and return this instant's values (only the model's metrics)."""
        self._transition(now, dt)
        r = self.rng
        running = self.state == "running"
        out: dict[str, Any] = {}
        if running:
            self.wear = min(1.0, self.wear + WEAR_PER_RUN_HOUR * dt / 3600)
            self.run_hours += dt / 3600
        if self.model == "energy_meter":
            return self._meter(now, dt)
        prof = PROFILES.get(self.model, {})
        for key, (run_v, idle_v, sd, wear_add) in prof.items():
            run_v, idle_v = self._levels(key, run_v, idle_v)
            base = run_v + wear_add * self.wear if running else idle_v + (wear_add * self.wear * 0.3 if idle_v else 0)
            if self.state in ("fault", "off") and key not in ("outlet_pressure",):
                base = idle_v * (0.9 if self.state == "fault" else 0.6)
            if key in LAG_S:  # the governed value approaches its level (no jump when a setpoint changes)
                prev = self.lagged.get(key, base)
                base = prev + (base - prev) * (1 - math.exp(-dt / LAG_S[key]))
                self.lagged[key] = base
            v = base + r.gauss(0, sd if base else sd * 0.1)
            if key == "vibration" and self.state == "fault":
                v = 7.5 + r.uniform(0, 3)  # the fault shows in vibration
            out[key] = round(max(0.0, v), 3)
        if self.ideal_cycle_s:
            cycle = self.ideal_cycle_s * (1 + 0.2 * self.wear)
            if running:
                n = dt / cycle * self._rate()
                self.cycles += n
                bad = n * (0.008 + 0.05 * self.wear**2)
                self.reject += bad
                self.good += n - bad
            out["cycle_count"] = float(int(self.cycles))
            out["good_count"] = float(int(self.good))
            out["reject_count"] = float(int(self.reject))
        load = {"running": 0.75 + 0.1 * self.wear, "idle": 0.18, "setup": 0.25, "fault": 0.05, "off": 0.0}[self.state]
        rated = RATED_KW.get(self.model, 10.0)
        power = max(0.0, rated * load + r.gauss(0, rated * 0.02))
        self.energy += power * dt / 3600
        out["power"] = round(power, 3)
        out["energy"] = round(self.energy, 3)
        out["state"] = self.state
        if "run_hours" in self.metrics:
            out["run_hours"] = round(self.run_hours, 2)
        if "needle_break" in self.metrics:
            out["needle_break"] = self.state == "fault" and r.random() < 0.5
        if "tool_wear" in self.metrics:
            out["tool_wear"] = round(min(100.0, 100 * self.wear), 2)
        if "program" in self.metrics:
            out["program"] = f"O{1000 + int(self.cycles) // 5000 % 50}"
        for key, sp in self.setpoints.items():
            out[key] = sp
        if degrading.is_degrading(self.uid):
            out = degrading.apply(self, now, out)
        return {k: v for k, v in out.items() if k in self.metrics}

    def _meter(self, now: datetime, dt: float) -> dict[str, Any]:
        r = self.rng
        h = now.astimezone(CHINA).hour
        day = 0.35 + 0.65 * (1 if 8 <= h < 20 else 0.4)
        power = max(1.0, 260 * day + r.gauss(0, 12))
        self.energy += power * dt / 3600
        pf = min(0.99, 0.9 + r.gauss(0, 0.01))
        return {
            "voltage": round(400 + r.gauss(0, 2.5), 2),
            "current": round(power * 1000 / (math.sqrt(3) * 400 * pf), 2),
            "power": round(power, 3),
            "reactive_power": round(power * math.tan(math.acos(pf)), 3),
            "power_factor": round(pf, 3),
            "frequency": round(50 + r.gauss(0, 0.02), 3),
            "energy": round(self.energy, 3),
        }
