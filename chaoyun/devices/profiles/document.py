"""The device profile as a document (YAML or JSON): parsing with line numbers, checking with field paths, and
the document of a stored profile (export).

A profile document::

    key: blow_moulding            # [a-z][a-z0-9_]*, fixed once created
    name_zh: 吹塑机
    name_en: Blow moulding machine
    category: moulding
    ideal_cycle_s: 12             # default cycle time (the OEE performance base)
    metrics:
      - {key: status, name_zh: 状态, name_en: Status, type: enum, labels: {"1": 运行, "2": 待机}}
      - {key: melt_temp, name_zh: 熔体温度, name_en: Melt temperature, type: number, unit: °C, min: 0, max: 300,
         precision: 1}
      - {key: melt_temp_sp, ..., type: number, min: 150, max: 260, writable: true}   # a setpoint and its limits
    state: {metric: status, map: {"1": running, "2": idle, "3": fault, "4": setup}}
    # or:  state: {metric: power, running_above: 5, idle_above: 0.5}     (below idle_above: off)
    counters: {cycle: shots, good: good_count, reject: reject_count}
    energy: energy_kwh
    power: power_kw
    connectors:
      modbus: {registers: [{metric: status, address: 0, table: holding, type: uint16, scale: 1}]}
      opcua: {nodes: [{metric: status, node_id: "ns=2;s=Machine.Status"}]}
      mqtt: {ts: data.time, values: {status: data.st, melt_temp: data.temps.melt}}

Types: number | boolean | string | enum. Every error names the line (where the text has lines) and the field.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from chaoyun.devices import catalog
from chaoyun.devices.connectors.modbus import Register
from chaoyun.errors import Invalid
from chaoyun.i18n import N_, both

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DOC_TYPES = {"number": "numeric", "boolean": "bool", "string": "string", "enum": "enum"}
STORED_TYPES = {v: k for k, v in DOC_TYPES.items()}
# Roles given by the state / counters / energy / power sections: one metric each per profile.
SECTION_ROLES = ("state", "cycle_counter", "good_count", "reject_count", "energy", "power")
COUNTERS = {"cycle": "cycle_counter", "good": "good_count", "reject": "reject_count"}
# Accepted names of the machine states (run / idle / down / setup in the shop floor's words).
STATE_ALIASES = {"run": "running", "down": "fault", "stopped": "off"}
STATES = tuple(catalog.STATES)
DERIVED_STATE_KEY = "state"
MAX_METRICS = 500
TOP_FIELDS = {
    "key",
    "name_zh",
    "name_en",
    "category",
    "ideal_cycle_s",
    "metrics",
    "state",
    "counters",
    "energy",
    "power",
    "connectors",
    "version",
    "description",
}
METRIC_FIELDS = {
    "key",
    "name_zh",
    "name_en",
    "unit",
    "type",
    "min",
    "max",
    "precision",
    "labels",
    "writable",
    "role",
    "deprecated",
}


@dataclass
class Problem:
    path: str
    msgid: str
    params: dict[str, Any]
    line: int | None = None


class ProfileInvalid(Invalid):
    """A bad profile file: every problem with its line (when known), field path and reason, in both languages."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(first.msgid, field=first.path or None, **first.params)

    def lines(self) -> list[dict[str, str]]:
        out = []
        for p in self.problems:
            reason = both(p.msgid, **p.params)
            if not p.path:  # a message about the whole file (a syntax error names its own line)
                out.append({"field": "", "line": str(p.line or ""), "zh": reason["zh"], "en": reason["en"]})
                continue
            if p.line is not None:
                m = both(N_("Line %(line)s, %(field)s: %(reason)s"), line=p.line, field=p.path or "-", reason="%s")
            else:
                m = both(N_("%(field)s: %(reason)s"), field=p.path or "-", reason="%s")
            out.append(
                {"field": p.path, "line": str(p.line or ""), "zh": m["zh"] % reason["zh"], "en": m["en"] % reason["en"]}
            )
        return out

    def messages(self) -> dict[str, str]:
        ls = self.lines()
        return {"zh": "；".join(x["zh"] for x in ls), "en": "; ".join(x["en"] for x in ls)}

    def payload(self) -> dict[str, Any]:
        body = super().payload()
        body["error"]["problems"] = self.lines()
        return body

    def message(self) -> str:
        from chaoyun.i18n import get_locale

        return self.messages()["zh" if get_locale() == "zh_CN" else "en"]


# ---------------------------------------------------------------- text → data, with line numbers


class _Lines:
    """Field path → line number, from the YAML node tree (JSON is YAML too, so both get lines)."""

    def __init__(self, node: Any) -> None:
        self.lines: dict[str, int] = {}
        if node is not None:
            self._walk(node, "")

    def _walk(self, node: Any, path: str) -> None:
        import yaml

        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = str(k.value)
                p = f"{path}.{key}" if path else key
                self.lines[p] = k.start_mark.line + 1
                self._walk(v, p)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._walk(v, f"{path}[{i}]")

    def line(self, path: str) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = re.sub(r"(\[\d+\]|\.[^.\[]+)$", "", path) if re.search(r"(\[\d+\]|\.[^.\[]+)$", path) else ""
        return self.lines.get("")


def parse_text(text: str) -> tuple[Any, _Lines]:
    """YAML or JSON text → data and its line map; a syntax error names its line and column."""
    import yaml

    if len(text) > 1_000_000:
        raise Invalid(N_("The profile file is larger than 1 MB."))
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        col = mark.column + 1 if mark else 0
        raise ProfileInvalid(
            [
                Problem(
                    "",
                    N_("The file is not valid YAML or JSON (line %(line)s, column %(column)s): %(problem)s"),
                    {"line": line, "column": col, "problem": exc.problem or str(exc)},
                    line,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise ProfileInvalid(
            [Problem("", N_("The file is not valid YAML or JSON: %(problem)s"), {"problem": str(exc)})]
        ) from None
    return data, _Lines(node)


# ---------------------------------------------------------------- checking


@dataclass
class MetricDoc:
    key: str
    name_zh: str
    name_en: str
    type: str  # stored type: numeric | bool | string | enum
    unit: str = ""
    min: float | None = None
    max: float | None = None
    precision: int | None = None
    labels: dict[str, dict[str, str]] | None = None
    writable: bool = False
    role: str | None = None
    deprecated: bool = False
    derived: bool = False


@dataclass
class ProfileDoc:
    key: str
    name_zh: str
    name_en: str
    category: str
    ideal_cycle_s: float | None
    metrics: list[MetricDoc]
    state: dict[str, Any] | None
    connectors: dict[str, Any] = field(default_factory=dict)


class _Check:
    def __init__(self, lines: _Lines | None) -> None:
        self.problems: list[Problem] = []
        self.lines = lines

    def err(self, path: str, msgid: str, **params: Any) -> None:
        self.problems.append(Problem(path, msgid, params, self.lines.line(path) if self.lines else None))

    def text(self, d: dict[str, Any], k: str, path: str, max_len: int, required: bool = True) -> str:
        v = d.get(k)
        if v is None or v == "":
            if required:
                self.err(f"{path}{k}", N_("This field is required."))
            return ""
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            self.err(f"{path}{k}", N_("Enter text."))
            return ""
        s = str(v).strip()
        if len(s) > max_len:
            self.err(f"{path}{k}", N_("Too long: at most %(max_length)s characters."), max_length=max_len)
        return s[:max_len]

    def number(self, d: dict[str, Any], k: str, path: str) -> float | None:
        v = d.get(k)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            self.err(f"{path}{k}", N_("Enter a number."))
            return None
        return float(v)

    def flag(self, d: dict[str, Any], k: str, path: str) -> bool:
        v = d.get(k, False)
        if not isinstance(v, bool):
            self.err(f"{path}{k}", N_("Enter true or false."))
            return False
        return v

    def unknown(self, d: dict[str, Any], allowed: set[str], path: str) -> None:
        for k in d:
            if k not in allowed:
                self.err(f"{path}{k}", N_("Unknown field."))


def _state_name(v: Any) -> str | None:
    s = str(v).strip().lower()
    s = STATE_ALIASES.get(s, s)
    return s if s in STATES else None


def value_key(v: Any) -> str:
    """How a reported value is looked up in a value map or enum labels: 1, 1.0 and "1" are the same."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def check(data: Any, lines: _Lines | None = None) -> ProfileDoc:
    """Data of a profile document → a checked ``ProfileDoc``; raises ``ProfileInvalid`` listing every problem."""
    c = _Check(lines)
    if not isinstance(data, dict):
        c.err("", N_("The profile must be a mapping (key: value) at the top level."))
        raise ProfileInvalid(c.problems)
    c.unknown(data, TOP_FIELDS, "")
    key = c.text(data, "key", "", 64)
    if key and not KEY_RE.match(key):
        c.err("key", N_("A key starts with a lower-case letter and has only a-z, 0-9 and _ (at most 64)."))
    name_zh = c.text(data, "name_zh", "", 100)
    name_en = c.text(data, "name_en", "", 100)
    category = c.text(data, "category", "", 32, required=False) or "machine"
    ideal = c.number(data, "ideal_cycle_s", "")
    if ideal is not None and ideal <= 0:
        c.err("ideal_cycle_s", N_("Must be greater than 0."))
    metrics: list[MetricDoc] = []
    raw_metrics = data.get("metrics")
    if not isinstance(raw_metrics, list) or not raw_metrics:
        c.err("metrics", N_("List at least one metric."))
        raw_metrics = []
    if len(raw_metrics) > MAX_METRICS:
        c.err("metrics", N_("At most %(max)s metrics."), max=MAX_METRICS)
    seen: dict[str, int] = {}
    for i, m in enumerate(raw_metrics[:MAX_METRICS]):
        p = f"metrics[{i}]."
        if not isinstance(m, dict):
            c.err(f"metrics[{i}]", N_("Enter an object."))
            continue
        c.unknown(m, METRIC_FIELDS, p)
        mk = c.text(m, "key", p, 64)
        if mk and not KEY_RE.match(mk):
            c.err(f"{p}key", N_("A key starts with a lower-case letter and has only a-z, 0-9 and _ (at most 64)."))
        if mk in seen:
            c.err(
                f"{p}key",
                N_("The metric key “%(metric)s” appears twice (also metrics[%(other)s])."),
                metric=mk,
                other=seen[mk],
            )
        elif mk:
            seen[mk] = i
        typ = str(m.get("type", "number"))
        if typ not in DOC_TYPES:
            c.err(f"{p}type", N_("The type must be number, boolean, string or enum."))
            typ = "number"
        md = MetricDoc(
            key=mk,
            name_zh=c.text(m, "name_zh", p, 100),
            name_en=c.text(m, "name_en", p, 100),
            type=DOC_TYPES[typ],
            unit=c.text(m, "unit", p, 16, required=False),
            min=c.number(m, "min", p),
            max=c.number(m, "max", p),
            writable=c.flag(m, "writable", p),
            deprecated=c.flag(m, "deprecated", p),
        )
        if typ != "number" and (md.min is not None or md.max is not None):
            c.err(f"{p}min", N_("min and max apply to number metrics only."))
        if md.min is not None and md.max is not None and md.min > md.max:
            c.err(f"{p}min", N_("min (%(min)s) is greater than max (%(max)s)."), min=md.min, max=md.max)
        if md.writable and typ == "number" and (md.min is None or md.max is None):
            c.err(f"{p}writable", N_("A writable setpoint needs its limits: give min and max."))
        prec = m.get("precision")
        if prec is not None:
            if isinstance(prec, bool) or not isinstance(prec, int) or not 0 <= prec <= 6:
                c.err(f"{p}precision", N_("The precision is a whole number of decimals from 0 to 6."))
            else:
                md.precision = prec
        labels = m.get("labels")
        if typ == "enum":
            if not isinstance(labels, dict) or not labels:
                c.err(f"{p}labels", N_("An enum metric needs labels: a mapping of each value to its name."))
            else:
                md.labels = {}
                for lk, lv in labels.items():
                    if isinstance(lv, str) and lv.strip():
                        md.labels[value_key(lk)] = {"zh": lv.strip(), "en": lv.strip()}
                    elif isinstance(lv, dict) and isinstance(lv.get("zh"), str) and lv.get("zh"):
                        md.labels[value_key(lk)] = {"zh": str(lv["zh"]), "en": str(lv.get("en") or lv["zh"])}
                    else:
                        c.err(f"{p}labels.{lk}", N_("A label is a name, or {zh: ..., en: ...}."))
        elif labels is not None:
            c.err(f"{p}labels", N_("Labels apply to enum metrics only."))
        role = m.get("role")
        if role is not None:
            if not isinstance(role, str) or not re.match(r"^[a-z_]{1,32}$", role):
                c.err(f"{p}role", N_("A role is a word of a-z and _ (at most 32)."))
            else:
                md.role = role
        metrics.append(md)
    by_key = {m.key: m for m in metrics if m.key}

    def ref(path: str, v: Any, numeric: bool = False) -> MetricDoc | None:
        if not isinstance(v, str) or v not in by_key:
            c.err(path, N_("“%(metric)s” is not a metric of this profile."), metric=str(v))
            return None
        md = by_key[v]
        if numeric and md.type != "numeric":
            c.err(path, N_("“%(metric)s” must be a number metric."), metric=v)
        return md

    # Sections that give roles; a metric's own "role" of the same kind must not contradict them.
    assigned: dict[str, str] = {m.role: m.key for m in metrics if m.role in SECTION_ROLES}
    for role in list(assigned):
        holders = [m.key for m in metrics if m.role == role]
        if len(holders) > 1:
            c.err(
                "metrics",
                N_("Only one metric may have the role %(role)s (%(metrics)s)."),
                role=role,
                metrics=", ".join(holders),
            )

    def give(role: str, md: MetricDoc | None, path: str) -> None:
        if md is None:
            return
        other = assigned.get(role)
        if other is not None and other != md.key:
            c.err(
                path,
                N_("Only one metric may have the role %(role)s (%(metrics)s)."),
                role=role,
                metrics=f"{other}, {md.key}",
            )
            return
        assigned[role] = md.key
        md.role = role

    counters = data.get("counters")
    if counters is not None:
        if not isinstance(counters, dict):
            c.err("counters", N_("Enter an object."))
        else:
            c.unknown(counters, set(COUNTERS), "counters.")
            for name, role in COUNTERS.items():
                if name in counters:
                    give(role, ref(f"counters.{name}", counters[name], numeric=True), f"counters.{name}")
    for role in ("energy", "power"):
        if data.get(role) is not None:
            give(role, ref(role, data[role], numeric=True), role)

    state = _check_state(c, data.get("state"), by_key, metrics, ref)
    if state is not None and (state.get("map") is not None or "running_above" in state):
        if DERIVED_STATE_KEY in by_key:
            c.err(
                "state.metric",
                N_(
                    "With a value map or threshold the machine state is stored as the metric "
                    "“state”; name the source metric differently."
                ),
            )
        elif "state" in assigned:
            c.err(
                "state",
                N_("Only one metric may have the role %(role)s (%(metrics)s)."),
                role="state",
                metrics=assigned["state"],
            )
        else:
            metrics.append(
                MetricDoc(DERIVED_STATE_KEY, "运行状态", "Machine state", "string", role="state", derived=True)
            )
    elif state is not None:
        give("state", by_key.get(state["metric"]), "state.metric")
    connectors = _check_connectors(c, data.get("connectors"), by_key, ref)
    if c.problems:
        raise ProfileInvalid(c.problems)
    return ProfileDoc(key, name_zh, name_en, category, ideal, metrics, state, connectors)


def _check_state(
    c: _Check, raw: Any, by_key: dict[str, MetricDoc], metrics: list[MetricDoc], ref: Any
) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        c.err("state", N_("Enter an object."))
        return None
    c.unknown(raw, {"metric", "map", "running_above", "idle_above"}, "state.")
    md = ref("state.metric", raw.get("metric"))
    if md is None:
        return None
    out: dict[str, Any] = {"metric": md.key}
    if raw.get("map") is not None:
        vm = raw["map"]
        if not isinstance(vm, dict) or not vm:
            c.err("state.map", N_("The value map gives each reported value its machine state."))
            return None
        out["map"] = {}
        for k, v in vm.items():
            st = _state_name(v)
            if st is None:
                c.err(
                    f"state.map.{k}",
                    N_("“%(value)s” is not a machine state (one of %(states)s)."),
                    value=str(v),
                    states=", ".join(STATES),
                )
            else:
                out["map"][value_key(k)] = st
        if md.labels:
            for k in out["map"]:
                if k not in md.labels:
                    c.err(
                        f"state.map.{k}",
                        N_("“%(value)s” is not a value of the enum “%(metric)s”."),
                        value=k,
                        metric=md.key,
                    )
    elif raw.get("running_above") is not None:
        if md.type != "numeric":
            c.err("state.metric", N_("“%(metric)s” must be a number metric."), metric=md.key)
        run = c.number(raw, "running_above", "state.")
        idle = c.number(raw, "idle_above", "state.")
        if run is not None:
            out["running_above"] = run
        if idle is not None:
            out["idle_above"] = idle
            if run is not None and idle >= run:
                c.err("state.idle_above", N_("idle_above must be lower than running_above."))
    else:
        if md.type not in ("string",):
            c.err(
                "state",
                N_("Give a value map (map) or a threshold (running_above) for the state metric “%(metric)s”."),
                metric=md.key,
            )
    return out


def _path_ok(p: Any) -> bool:
    return isinstance(p, str) and bool(p) and all(seg for seg in p.split("."))


def _check_connectors(c: _Check, raw: Any, by_key: dict[str, MetricDoc], ref: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        c.err("connectors", N_("Enter an object."))
        return {}
    c.unknown(raw, {"modbus", "opcua", "mqtt"}, "connectors.")
    out: dict[str, Any] = {}
    mb = raw.get("modbus")
    if mb is not None:
        regs = mb.get("registers") if isinstance(mb, dict) else None
        if not isinstance(regs, list) or not regs:
            c.err("connectors.modbus.registers", N_("List the registers: metric, address, table, type, scale."))
        else:
            out["modbus"] = {"registers": []}
            used: set[str] = set()
            for i, r in enumerate(regs):
                p = f"connectors.modbus.registers[{i}]"
                if not isinstance(r, dict):
                    c.err(p, N_("Enter an object."))
                    continue
                md = ref(f"{p}.metric", r.get("metric"))
                if md is None:
                    continue
                if md.key in used:
                    c.err(f"{p}.metric", N_("“%(metric)s” is mapped twice."), metric=md.key)
                used.add(md.key)
                try:
                    reg = Register.from_dict({**r, "writable": md.writable})
                except (KeyError, TypeError, ValueError) as exc:
                    c.err(p, N_("Not a valid register: %(problem)s"), problem=str(exc))
                    continue
                if md.type == "string":
                    c.err(f"{p}.metric", N_("Registers carry numbers; “%(metric)s” is a string metric."), metric=md.key)
                out["modbus"]["registers"].append(
                    {
                        k: v
                        for k, v in {
                            "metric": reg.metric,
                            "address": reg.address,
                            "table": reg.table,
                            "type": reg.type,
                            "scale": reg.scale,
                            "offset": reg.offset,
                            "byte_order": reg.byte_order,
                            "word_order": reg.word_order,
                        }.items()
                        if not _default_register_field(k, v)
                    }
                )
    ua = raw.get("opcua")
    if ua is not None:
        nodes = ua.get("nodes") if isinstance(ua, dict) else None
        if not isinstance(nodes, list) or not nodes:
            c.err("connectors.opcua.nodes", N_("List the nodes: metric and node_id."))
        else:
            out["opcua"] = {"nodes": []}
            for i, n in enumerate(nodes):
                p = f"connectors.opcua.nodes[{i}]"
                if not isinstance(n, dict):
                    c.err(p, N_("Enter an object."))
                    continue
                md = ref(f"{p}.metric", n.get("metric"))
                nid = n.get("node_id")
                if not isinstance(nid, str) or not nid.strip():
                    c.err(f"{p}.node_id", N_("This field is required."))
                elif md is not None:
                    out["opcua"]["nodes"].append({"metric": md.key, "node_id": nid.strip()})
    mq = raw.get("mqtt")
    if mq is not None:
        if not isinstance(mq, dict) or not isinstance(mq.get("values"), dict) or not mq["values"]:
            c.err("connectors.mqtt.values", N_("Map each metric to its key path in the payload (e.g. data.temp)."))
        else:
            c.unknown(mq, {"ts", "values"}, "connectors.mqtt.")
            vals: dict[str, str] = {}
            for mk, path in mq["values"].items():
                if ref(f"connectors.mqtt.values.{mk}", mk) is None:
                    continue
                if not _path_ok(path):
                    c.err(f"connectors.mqtt.values.{mk}", N_("A key path is keys joined by dots, e.g. data.temp."))
                else:
                    vals[mk] = path
            out["mqtt"] = {"values": vals}
            if mq.get("ts") is not None:
                if not _path_ok(mq["ts"]):
                    c.err("connectors.mqtt.ts", N_("A key path is keys joined by dots, e.g. data.temp."))
                else:
                    out["mqtt"]["ts"] = mq["ts"]
    return out


_REG_DEFAULTS = {"offset": 0.0, "byte_order": "big", "word_order": "big"}


def _default_register_field(k: str, v: Any) -> bool:
    return k in _REG_DEFAULTS and _REG_DEFAULTS[k] == v


def load(text: str) -> ProfileDoc:
    data, lines = parse_text(text)
    return check(data, lines)


# ---------------------------------------------------------------- stored profile → document


def document(model: Any) -> dict[str, Any]:
    """The export document of a stored profile (DeviceModel); ``load`` of its dump gives it back."""
    doc: dict[str, Any] = {
        "key": model.key,
        "name_zh": model.name_zh,
        "name_en": model.name_en,
        "category": model.category,
    }
    if model.ideal_cycle_s is not None:
        doc["ideal_cycle_s"] = model.ideal_cycle_s
    doc["version"] = model.version
    metrics = []
    roles: dict[str, str] = {}
    for m in model.metrics:
        if m.derived:
            continue
        md: dict[str, Any] = {
            "key": m.key,
            "name_zh": m.name_zh,
            "name_en": m.name_en,
            "type": STORED_TYPES.get(m.type, "number"),
        }
        if m.unit:
            md["unit"] = m.unit
        if m.min_value is not None:
            md["min"] = m.min_value
        if m.max_value is not None:
            md["max"] = m.max_value
        if m.precision is not None:
            md["precision"] = m.precision
        if m.labels:
            md["labels"] = m.labels
        if m.writable:
            md["writable"] = True
        if m.role and m.role not in SECTION_ROLES:
            md["role"] = m.role
        elif m.role:
            roles[m.role] = m.key
        if m.deprecated:
            md["deprecated"] = True
        metrics.append(md)
    doc["metrics"] = metrics
    if model.state_config:
        doc["state"] = dict(model.state_config)
    elif "state" in roles:
        doc["state"] = {"metric": roles["state"]}
    counters = {name: roles[role] for name, role in COUNTERS.items() if role in roles}
    if counters:
        doc["counters"] = counters
    for role in ("energy", "power"):
        if role in roles:
            doc[role] = roles[role]
    if model.connectors:
        doc["connectors"] = model.connectors
    return doc


def dump(doc: dict[str, Any], fmt: str = "yaml") -> str:
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    import yaml

    return str(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=None, width=120))
