"""Built-in device models (templates) shipped as data: what each kind of Shantou machine reports.

Roles tell the apps what a metric means without knowing model keys: ``state`` (running / idle / setup /
fault / off), ``cycle_counter``, ``good_count``, ``reject_count`` (monotonic counters), ``power`` (kW),
``energy`` (kWh, monotonic), ``temperature``, ``pressure``, ``vibration``, ``speed``, ``setpoint``.
``ideal_cycle_s`` is the seconds per cycle at rated speed (the OEE app's performance base).
"""

from __future__ import annotations

from dataclasses import dataclass, field

STATES = ("running", "idle", "setup", "fault", "off")
# Live status shown on pages: the state metric folded into three colours.
STATUS_OF_STATE = {"running": "running", "idle": "idle", "setup": "idle", "fault": "down", "off": "down"}


@dataclass(frozen=True)
class MetricSpec:
    key: str
    zh: str
    en: str
    unit: str = ""
    type: str = "numeric"
    min: float | None = None
    max: float | None = None
    role: str | None = None
    writable: bool = False


@dataclass(frozen=True)
class ModelSpec:
    key: str
    zh: str
    en: str
    category: str
    ideal_cycle_s: float | None
    metrics: list[MetricSpec] = field(default_factory=list)


def _state() -> MetricSpec:
    return MetricSpec("state", "运行状态", "State", "", "string", role="state")


def _counters(unit_zh: str) -> list[MetricSpec]:
    return [
        MetricSpec("cycle_count", f"累计{unit_zh}数", "Cycle counter", "", "numeric", 0, 1e12, "cycle_counter"),
        MetricSpec("good_count", "累计良品数", "Good count", "", "numeric", 0, 1e12, "good_count"),
        MetricSpec("reject_count", "累计不良品数", "Reject count", "", "numeric", 0, 1e12, "reject_count"),
    ]


def _power(max_kw: float) -> list[MetricSpec]:
    return [
        MetricSpec("power", "有功功率", "Active power", "kW", "numeric", 0, max_kw, "power"),
        MetricSpec("energy", "累计电能", "Energy", "kWh", "numeric", 0, 1e12, "energy"),
    ]


def _vibration() -> MetricSpec:
    return MetricSpec("vibration", "振动速度", "Vibration", "mm/s", "numeric", 0, 100, "vibration")


MODELS: list[ModelSpec] = [
    ModelSpec(
        "injection_moulding",
        "注塑机",
        "Injection moulding machine",
        "moulding",
        30.0,
        [
            _state(),
            *_counters("模次"),
            MetricSpec("cycle_time", "成型周期", "Cycle time", "s", "numeric", 0, 600),
            MetricSpec("barrel_temp", "料筒温度", "Barrel temperature", "°C", "numeric", 0, 450, "temperature"),
            MetricSpec("mould_temp", "模具温度", "Mould temperature", "°C", "numeric", 0, 250, "temperature"),
            MetricSpec("injection_pressure", "注射压力", "Injection pressure", "MPa", "numeric", 0, 300, "pressure"),
            MetricSpec("oil_temp", "液压油温", "Hydraulic oil temperature", "°C", "numeric", 0, 120, "temperature"),
            _vibration(),
            *_power(300),
            MetricSpec(
                "barrel_temp_sp",
                "料筒温度设定",
                "Barrel temperature setpoint",
                "°C",
                "numeric",
                100,
                350,
                "setpoint",
                True,
            ),
        ],
    ),
    ModelSpec(
        "circular_knitting",
        "圆纬机",
        "Circular knitting machine",
        "textile",
        2.4,
        [
            _state(),
            *_counters("转"),
            MetricSpec("speed", "主轴转速", "Speed", "rpm", "numeric", 0, 60, "speed"),
            MetricSpec("yarn_tension", "纱线张力", "Yarn tension", "cN", "numeric", 0, 60),
            MetricSpec("needle_break", "断针报警", "Needle break", "", "bool"),
            MetricSpec("motor_temp", "电机温度", "Motor temperature", "°C", "numeric", 0, 150, "temperature"),
            _vibration(),
            *_power(30),
            MetricSpec("speed_sp", "转速设定", "Speed setpoint", "rpm", "numeric", 5, 40, "setpoint", True),
        ],
    ),
    ModelSpec(
        "sewing_line",
        "缝制流水线",
        "Sewing line",
        "textile",
        45.0,
        [
            _state(),
            *_counters("件"),
            MetricSpec("operators", "在岗人数", "Operators present", "", "numeric", 0, 200),
            MetricSpec("wip", "在制品", "Work in progress", "", "numeric", 0, 100000),
            MetricSpec("stitch_speed", "平均针速", "Stitch speed", "spm", "numeric", 0, 8000, "speed"),
            *_power(80),
        ],
    ),
    ModelSpec(
        "cnc",
        "数控机床",
        "CNC machine",
        "machining",
        90.0,
        [
            _state(),
            *_counters("件"),
            MetricSpec("spindle_speed", "主轴转速", "Spindle speed", "rpm", "numeric", 0, 30000, "speed"),
            MetricSpec("spindle_load", "主轴负载", "Spindle load", "%", "numeric", 0, 200),
            MetricSpec("spindle_temp", "主轴温度", "Spindle temperature", "°C", "numeric", 0, 120, "temperature"),
            MetricSpec("coolant_temp", "冷却液温度", "Coolant temperature", "°C", "numeric", 0, 80, "temperature"),
            MetricSpec("tool_wear", "刀具磨损", "Tool wear", "%", "numeric", 0, 100),
            _vibration(),
            MetricSpec("program", "加工程序", "Program", "", "string"),
            *_power(60),
            MetricSpec("feed_override", "进给倍率", "Feed override", "%", "numeric", 0, 150, "setpoint", True),
        ],
    ),
    ModelSpec(
        "air_compressor",
        "空压机",
        "Air compressor",
        "utility",
        None,
        [
            _state(),
            MetricSpec("outlet_pressure", "排气压力", "Outlet pressure", "bar", "numeric", 0, 16, "pressure"),
            MetricSpec("discharge_temp", "排气温度", "Discharge temperature", "°C", "numeric", 0, 150, "temperature"),
            MetricSpec("load_ratio", "加载率", "Load ratio", "%", "numeric", 0, 100),
            MetricSpec("flow", "供气量", "Air flow", "m³/min", "numeric", 0, 100),
            MetricSpec("motor_current", "电机电流", "Motor current", "A", "numeric", 0, 1000),
            MetricSpec("run_hours", "累计运行时间", "Running hours", "h", "numeric", 0, 1e7),
            _vibration(),
            *_power(250),
            MetricSpec("pressure_sp", "压力设定", "Pressure setpoint", "bar", "numeric", 4, 13, "setpoint", True),
        ],
    ),
    ModelSpec(
        "packaging",
        "包装机",
        "Packaging machine",
        "packaging",
        1.2,
        [
            _state(),
            *_counters("包"),
            MetricSpec("speed", "包装速度", "Speed", "packs/min", "numeric", 0, 300, "speed"),
            MetricSpec("seal_temp", "热封温度", "Seal temperature", "°C", "numeric", 0, 300, "temperature"),
            MetricSpec("film_tension", "膜张力", "Film tension", "N", "numeric", 0, 200),
            _vibration(),
            *_power(40),
            MetricSpec(
                "seal_temp_sp", "热封温度设定", "Seal temperature setpoint", "°C", "numeric", 80, 260, "setpoint", True
            ),
        ],
    ),
    ModelSpec(
        "energy_meter",
        "电能表",
        "Energy meter",
        "meter",
        None,
        [
            MetricSpec("voltage", "线电压", "Line voltage", "V", "numeric", 0, 1000),
            MetricSpec("current", "电流", "Current", "A", "numeric", 0, 5000),
            MetricSpec("power", "有功功率", "Active power", "kW", "numeric", -5000, 5000, "power"),
            MetricSpec("reactive_power", "无功功率", "Reactive power", "kvar", "numeric", -5000, 5000),
            MetricSpec("power_factor", "功率因数", "Power factor", "", "numeric", -1, 1),
            MetricSpec("frequency", "频率", "Frequency", "Hz", "numeric", 45, 65),
            MetricSpec("energy", "累计电能", "Energy", "kWh", "numeric", 0, 1e12, "energy"),
        ],
    ),
]
MODEL_KEYS = [m.key for m in MODELS]


def spec(key: str) -> ModelSpec:
    return next(m for m in MODELS if m.key == key)


def sync_models(db: object) -> int:
    """Insert missing built-in models and metrics (idempotent; existing rows are left alone)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from chaoyun.devices.models import DeviceModel, MetricDef

    assert isinstance(db, Session)
    added = 0
    existing = {m.key: m for m in db.execute(select(DeviceModel).where(DeviceModel.builtin.is_(True))).scalars()}
    for ms in MODELS:
        model = existing.get(ms.key)
        if model is None:
            model = DeviceModel(
                key=ms.key, name_zh=ms.zh, name_en=ms.en, category=ms.category, ideal_cycle_s=ms.ideal_cycle_s
            )
            db.add(model)
            db.flush()
            added += 1
        have = {m.key for m in model.metrics}
        for mt in ms.metrics:
            if mt.key in have:
                continue
            model.metrics.append(
                MetricDef(
                    key=mt.key,
                    name_zh=mt.zh,
                    name_en=mt.en,
                    unit=mt.unit,
                    type=mt.type,
                    min_value=mt.min,
                    max_value=mt.max,
                    writable=mt.writable,
                    role=mt.role,
                )
            )
            added += 1
    db.flush()
    return added
