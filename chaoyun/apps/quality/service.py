"""Inspection plans, measurements (form, CSV/Excel, API, telemetry), control charts, capability and SPC alarms."""

from __future__ import annotations

import csv
import gc
import io
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from chaoyun.apps.models import InspectionPlan, SpcAlarm, Subgroup
from chaoyun.apps.quality import spc
from chaoyun.apps.scope import own
from chaoyun.db import utcnow
from chaoyun.errors import Invalid, NotFound
from chaoyun.i18n import N_, both
from chaoyun.identity.audit import record_by
from chaoyun.identity.permissions import Actor
from chaoyun.patch import PatchModel

MAX_IMPORT_ROWS = 20_000
MAX_CHART_POINTS = 20_000
NOT_FOUND = N_("No such inspection plan, or it is not yours to see.")


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    characteristic: str = Field(min_length=1, max_length=100)
    unit: str = Field("", max_length=16)
    chart_type: str = Field(pattern="^(xbar_r|xbar_s|imr|p|np|c|u)$")
    subgroup_size: int = Field(5, ge=1, le=10_000)
    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    limits_mode: str = Field("recalc", pattern="^(fixed|recalc)$")
    baseline_count: int | None = Field(None, ge=2, le=100_000)
    tests: list[Annotated[int, Field(ge=1, le=8)]] = Field(default_factory=lambda: [1], max_length=8)
    device_id: int | None = Field(None, ge=1, le=2**31 - 1)
    metric: str | None = Field(None, max_length=64)


class PlanUpdate(PatchModel):
    nullable = frozenset({"lsl", "usl", "target", "baseline_count"})

    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    limits_mode: str | None = Field(None, pattern="^(fixed|recalc)$")
    baseline_count: int | None = Field(None, ge=2, le=100_000)
    tests: list[Annotated[int, Field(ge=1, le=8)]] | None = Field(None, max_length=8)


def _check_plan(chart_type: str, n: int, lsl: float | None, usl: float | None, tests: list[int]) -> None:
    if lsl is not None and usl is not None and lsl >= usl:
        raise Invalid(N_("The lower specification limit must be below the upper one."), field="lsl")
    if chart_type == "imr" and n != 1:
        raise Invalid(N_("An individuals (I-MR) chart has subgroups of one."), field="subgroup_size")
    if chart_type in ("xbar_r", "xbar_s") and not 2 <= n <= spc.MAX_SUBGROUP[chart_type]:
        raise Invalid(
            N_("Subgroup size for this chart must be between 2 and %(max)s."),
            field="subgroup_size",
            max=spc.MAX_SUBGROUP[chart_type],
        )
    if any(t not in spc.ALL_TESTS for t in tests):
        raise Invalid(N_("Tests for special causes are numbered 1 to 8."), field="tests")


def snapshot(p: InspectionPlan) -> dict[str, Any]:
    return {
        "name": p.name,
        "characteristic": p.characteristic,
        "chart_type": p.chart_type,
        "subgroup_size": p.subgroup_size,
        "lsl": p.lsl,
        "usl": p.usl,
        "target": p.target,
        "limits_mode": p.limits_mode,
        "baseline_count": p.baseline_count,
        "tests": list(p.tests or []),
    }


def create_plan(db: Session, actor: Actor, data: PlanIn) -> InspectionPlan:
    _check_plan(data.chart_type, data.subgroup_size, data.lsl, data.usl, data.tests)
    if data.device_id is not None:
        from chaoyun.devices.models import Device

        dev = db.get(Device, data.device_id)
        if dev is None or dev.org_id != actor.org_id:
            raise Invalid(N_("No such device in your enterprise."), field="device_id")
    plan = InspectionPlan(org_id=actor.org_id, **data.model_dump() | {"tests": sorted(set(data.tests))})
    db.add(plan)
    db.flush()
    record_by(db, actor, "create", "inspection_plan", plan.id, after=snapshot(plan))
    db.commit()
    return plan


def update_plan(db: Session, actor: Actor, plan_id: int, data: PlanUpdate) -> InspectionPlan:
    plan = get_plan(db, actor, plan_id)
    before = snapshot(plan)
    changes = data.model_dump(exclude_unset=True)
    merged = before | changes
    _check_plan(plan.chart_type, plan.subgroup_size, merged["lsl"], merged["usl"], merged["tests"] or [])
    for k, v in changes.items():
        setattr(plan, k, sorted(set(v)) if k == "tests" and v is not None else v)
    record_by(db, actor, "update", "inspection_plan", plan.id, before=before, after=snapshot(plan))
    db.commit()
    return plan


def list_plans(db: Session, actor: Actor) -> list[InspectionPlan]:
    return list(
        db.execute(select(InspectionPlan).where(InspectionPlan.org_id == actor.org_id).order_by(InspectionPlan.id))
        .scalars()
        .all()
    )


def get_plan(db: Session, actor: Actor, plan_id: int) -> InspectionPlan:
    return own(actor, db.get(InspectionPlan, plan_id), NOT_FOUND)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- measurements


@dataclass
class RowError:
    row: int
    message_zh: str
    message_en: str


@dataclass
class ImportReport:
    accepted: int = 0
    rejected: list[RowError] = field(default_factory=list)
    new_alarms: int = 0
    first_seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": [r.__dict__ for r in self.rejected],
            "new_alarms": self.new_alarms,
        }


def _num(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError
    # A full-width point (．) is what Chinese input methods type as a decimal point.
    f = float(v) if isinstance(v, (int, float)) else float(str(v).strip().replace("．", "."))
    if not math.isfinite(f):
        raise ValueError
    return f


def _bad(at: int, msgid: str, **params: Any) -> RowError:
    m = both(msgid, **params)
    return RowError(at, m["zh"], m["en"])


def parse_entry(plan: InspectionPlan, entry: Any, row: int) -> tuple[dict[str, Any] | None, RowError | None]:
    """One subgroup from a dict: ``values`` (list) for variable charts; ``defects`` and ``sample_size`` for
    attribute charts (p/np: nonconforming units; c/u: nonconformities)."""
    if not isinstance(entry, dict):
        return None, _bad(row, N_("Row %(row)s: not a subgroup."), row=row)
    ts = entry.get("ts")
    when: datetime | None = None
    if ts not in (None, ""):
        try:
            when = datetime.fromisoformat(str(ts))
        except ValueError:
            return None, _bad(row, N_("Row %(row)s: the time is not a date and time (2026-05-01T08:00)."), row=row)
        if when.tzinfo is None:
            from chaoyun.apps.oee.calendar import LOCAL

            when = when.replace(tzinfo=LOCAL)
    note = str(entry.get("note") or "")[:200]
    if plan.chart_type in spc.VARIABLE_CHARTS:
        raw = entry.get("values")
        if not isinstance(raw, list):
            return None, _bad(row, N_("Row %(row)s: measurements are missing."), row=row)
        raw = [v for v in raw if not (isinstance(v, str) and not v.strip())]
        if len(raw) != plan.subgroup_size:
            return None, _bad(
                row,
                N_("Row %(row)s: %(got)s measurements, but the plan's subgroup size is %(n)s."),
                row=row,
                got=len(raw),
                n=plan.subgroup_size,
            )
        try:
            values = [_num(v) for v in raw]
        except (ValueError, TypeError):
            return None, _bad(row, N_("Row %(row)s: a measurement is not a number."), row=row)
        return {"values": values, "ts": when, "note": note}, None
    try:
        defects = _num(entry.get("defects"))
        size = _num(entry.get("sample_size", plan.subgroup_size) or plan.subgroup_size)
    except (ValueError, TypeError):
        return None, _bad(row, N_("Row %(row)s: the count or the sample size is not a number."), row=row)
    if defects < 0 or size <= 0:
        return None, _bad(row, N_("Row %(row)s: counts cannot be negative and samples not empty."), row=row)
    if plan.chart_type in ("p", "np") and defects > size:
        return None, _bad(row, N_("Row %(row)s: more nonconforming units than the sample holds."), row=row)
    if plan.chart_type in ("np", "c") and size != plan.subgroup_size:
        return None, _bad(
            row,
            N_("Row %(row)s: this chart needs the same sample size in every subgroup (%(n)s)."),
            row=row,
            n=plan.subgroup_size,
        )
    return {"defects": defects, "sample_size": size, "ts": when, "note": note}, None


def add_subgroups(
    db: Session,
    actor: Actor | None,
    plan: InspectionPlan,
    entries: list[Any],
    source: str,
    first_row: int = 1,
    lines: list[int] | None = None,
) -> ImportReport:
    """Store every valid subgroup (bad ones are reported, never stop the good ones), then run the tests on
    the new points and raise alarms for what they flag."""
    report = ImportReport()
    if len(entries) > MAX_IMPORT_ROWS:
        raise Invalid(N_("At most %(max)s subgroups at a time."), max=MAX_IMPORT_ROWS)
    next_seq = (
        int(
            db.execute(select(func.coalesce(func.max(Subgroup.seq), 0)).where(Subgroup.plan_id == plan.id)).scalar_one()
        )
        + 1
    )
    report.first_seq = next_seq
    who = actor.user.username if actor else "system"
    now = utcnow()
    for i, entry in enumerate(entries):
        parsed, err = parse_entry(plan, entry, lines[i] if lines else first_row + i)
        if err is not None:
            report.rejected.append(err)
            continue
        assert parsed is not None
        db.add(
            Subgroup(
                plan_id=plan.id,
                seq=next_seq,
                ts=parsed.pop("ts") or now,
                values=parsed.get("values") or [],
                defects=parsed.get("defects"),
                sample_size=parsed.get("sample_size"),
                source=source,
                entered_by=who,
                note=parsed.get("note", ""),
            )
        )
        next_seq += 1
        report.accepted += 1
    if report.accepted:
        db.flush()
        report.new_alarms = _raise_alarms(db, plan, report.first_seq)
        record_by(
            db,
            actor,
            "measure",
            "inspection_plan",
            plan.id,
            after={"source": source, "subgroups": report.accepted, "rejected": len(report.rejected)},
        )
    db.commit()
    return report


def add_measurements(db: Session, actor: Actor, plan_id: int, entries: list[Any], source: str = "api") -> ImportReport:
    return add_subgroups(db, actor, get_plan(db, actor, plan_id), entries, source)


def _table_rows(filename: str, content: bytes) -> list[list[str]]:
    if filename.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise Invalid(N_("The file is not a readable Excel workbook.")) from exc
        ws = wb.worksheets[0]
        rows = [["" if c is None else str(c).strip() for c in r] for r in ws.iter_rows(values_only=True)]
        wb.close()
        return rows
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")  # Excel on Chinese Windows saves "CSV" so
        except UnicodeDecodeError as exc:
            raise Invalid(N_("The file is neither UTF-8 nor GB18030 text.")) from exc
    if "\x00" in text:
        raise Invalid(N_("The file contains NUL characters; save it again as CSV text."))
    # newline="" lets the csv module read any line ending, a bare carriage return included.
    try:
        return [[c.strip() for c in r] for r in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise Invalid(N_("The file is not readable CSV: %(detail)s"), detail=str(exc)[:200]) from exc


# Header names (lower case, spaces removed) → column role; measurement columns are numbered (x1, 值2, …).
_NAMED_COLUMNS = {
    "ts": "ts",
    "time": "ts",
    "timestamp": "ts",
    "datetime": "ts",
    "时间": "ts",
    "日期时间": "ts",
    "检验时间": "ts",
    "defects": "defects",
    "nonconforming": "defects",
    "不良数": "defects",
    "缺陷数": "defects",
    "sample_size": "sample_size",
    "samplesize": "sample_size",
    "样本量": "sample_size",
    "note": "note",
    "备注": "note",
}
_VALUE_COLUMN = re.compile(r"^(?:x|value|v|m|measurement|sample|测量值|值|样本|测量)[_#\-]?(\d{1,3})$")


def _column_roles(row: list[str]) -> dict[int, str]:
    """Column index → role for a header row (empty when the row names no known column)."""
    roles: dict[int, str] = {}
    for j, cell in enumerate(row):
        key = re.sub(r"\s+", "", cell).lower()
        if key in _NAMED_COLUMNS:
            roles[j] = _NAMED_COLUMNS[key]
        elif (m := _VALUE_COLUMN.match(key)) is not None:
            roles[j] = f"x{int(m.group(1))}"
    return roles


def import_file(db: Session, actor: Actor, plan_id: int, filename: str, content: bytes) -> ImportReport:
    """CSV or Excel, one subgroup per row. A header row maps columns by name, in any order: ``ts`` / 时间
    (optional), measurements ``x1`` … ``xn`` (or 值1…, value1…) for variable charts, ``defects`` / 不良数 and
    ``sample_size`` / 样本量 for attribute charts, ``note`` / 备注; other columns are ignored. Title lines above
    the header are skipped. Without a header: x1 … xn (variable) or defects, sample_size (attribute) in that
    order. Each bad row is reported with its line in the file; the good rows are kept."""
    plan = get_plan(db, actor, plan_id)
    numbered = [(i + 1, r) for i, r in enumerate(_table_rows(filename, content)) if any(c for c in r)]
    if not numbered:
        raise Invalid(N_("The file has no rows."))
    roles: dict[int, str] = {}
    start = 0
    # The header is the last non-numeric line with known column names before the first line of data.
    for k, (_line, r) in enumerate(numbered):
        if _is_numbers(r):
            break
        found = _column_roles(r)
        if found:
            roles, start = found, k + 1
        elif not roles:
            start = k + 1  # a title line above the header
        else:
            break
    if not roles:
        start = 0  # no header: every line is data (a bad first line is reported, not skipped)
    if roles:
        taken: dict[str, int] = {}
        for j, role in roles.items():
            if role in taken:
                raise Invalid(
                    N_("Line %(line)s: the column %(name)s appears twice."),
                    field="file",
                    line=numbered[start - 1][0],
                    name=numbered[start - 1][1][j],
                )
            taken[role] = j
        value_cols = sorted((int(r[1:]), j) for r, j in taken.items() if r.startswith("x"))
        if plan.chart_type in spc.VARIABLE_CHARTS and [n for n, _ in value_cols] != list(
            range(1, plan.subgroup_size + 1)
        ):
            raise Invalid(
                N_("The header must name the measurement columns x1 to x%(n)s (the subgroup size); found: %(found)s."),
                field="file",
                n=plan.subgroup_size,
                found=", ".join(numbered[start - 1][1][j] for _, j in value_cols) or "—",
            )
        if plan.chart_type in spc.ATTRIBUTE_CHARTS and "defects" not in taken:
            raise Invalid(N_("The header needs a defects (不良数) column."), field="file")
    entries: list[dict[str, Any]] = []
    lines: list[int] = []
    for line, r in numbered[start:]:
        rec: dict[str, Any]
        if roles:

            def cell(j: int, row: list[str] = r) -> str:
                return row[j] if j < len(row) else ""

            rec = {role: cell(j) for j, role in roles.items() if not role.startswith("x")}
            if plan.chart_type in spc.VARIABLE_CHARTS:
                rec["values"] = [cell(j) for _, j in value_cols]
        elif plan.chart_type in spc.ATTRIBUTE_CHARTS:
            rec = {"defects": r[0] if r else "", "sample_size": r[1] if len(r) > 1 else ""}
        else:
            rec = {"values": list(r)}
        entries.append(rec)
        lines.append(line)
    return add_subgroups(db, actor, plan, entries, "import", lines=lines)


def _is_numbers(row: list[str]) -> bool:
    try:
        [float(c) for c in row if c]
        return True
    except ValueError:
        return False


def pull_telemetry(
    db: Session, actor: Actor | None, plan: InspectionPlan, until: datetime | None = None
) -> ImportReport:
    """Take new values of the plan's telemetry metric and group them into subgroups of the plan's size."""
    if plan.device_id is None or not plan.metric or plan.chart_type not in spc.VARIABLE_CHARTS:
        raise Invalid(N_("This plan has no telemetry source."))
    from chaoyun.devices.store import get_store

    last = db.execute(
        select(func.max(Subgroup.ts)).where(Subgroup.plan_id == plan.id, Subgroup.source == "telemetry")
    ).scalar_one_or_none()
    start = last.astimezone(UTC) if last else datetime(2000, 1, 1, tzinfo=UTC)
    from datetime import timedelta

    start = start + timedelta(milliseconds=1)
    rows = get_store().raw(plan.device_id, plan.metric, start, until or utcnow() + timedelta(minutes=10), limit=200_000)
    vals = [(ts, v) for ts, v, _t in rows if v is not None]
    n = plan.subgroup_size
    entries = []
    for i in range(0, len(vals) - n + 1, n):
        chunk = vals[i : i + n]
        entries.append({"values": [v for _, v in chunk], "ts": chunk[-1][0].isoformat()})
    return add_subgroups(db, actor, plan, entries, "telemetry")


# ---------------------------------------------------------------- charts


@dataclass
class ChartData:
    chart: spc.Chart
    seqs: list[int]
    times: list[str]
    capability: spc.Capability | None
    histogram: dict[str, list[float]] | None
    # Capability per phase ("all"; or "I" and "II" when limits are fixed from a first phase).
    phases: list[tuple[str, spc.Capability]] = field(default_factory=list)
    decimals: int = 4  # how to show limits and means: the measurements' decimals + 1

    def as_dict(self) -> dict[str, Any]:
        cap = self.capability.__dict__ if self.capability else None
        return {
            "capability_phases": [_clean({"phase": ph, **c.__dict__}) for ph, c in self.phases],
            "decimals": self.decimals,
            **self.chart.as_dict(),
            "seqs": self.seqs,
            "times": self.times,
            "capability": _clean(cap),
            "histogram": self.histogram,
        }


def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return None if not math.isfinite(v) else v
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


@dataclass
class Loaded:
    seqs: list[int]
    times: list[datetime]
    values: np.ndarray  # k × n measurements (variable charts; empty for attributes)
    defects: np.ndarray
    sizes: np.ndarray

    def __len__(self) -> int:
        return len(self.seqs)


def _load(db: Session, plan: InspectionPlan, last: int | None) -> Loaded:
    """The newest ``last`` subgroups, oldest first. The values column is read as text and parsed by numpy in
    one pass: per-row JSON decoding into Python lists was the largest cost of a 10,000-subgroup chart."""
    stmt = select(Subgroup.seq, Subgroup.ts, cast(Subgroup.values, Text), Subgroup.defects, Subgroup.sample_size).where(
        Subgroup.plan_id == plan.id
    )
    if last:
        rows = list(db.execute(stmt.order_by(Subgroup.seq.desc()).limit(last)).all())[::-1]
    else:
        rows = list(db.execute(stmt.order_by(Subgroup.seq)).all())
    k, n = len(rows), max(plan.subgroup_size, 1)
    values = np.zeros((0, n))
    if k and plan.chart_type in spc.VARIABLE_CHARTS:
        flat = np.fromstring(",".join((r[2] or "").strip(" []") for r in rows), dtype=float, sep=",")
        if flat.size == k * n:
            values = flat.reshape(k, n)
        else:  # a row of another length (should not happen: lengths are checked on entry)
            values = np.asarray([orjson.loads(r[2])[:n] for r in rows], dtype=float).reshape(k, n)
    defects = np.fromiter((r[3] or 0.0 for r in rows), dtype=float, count=k)
    sizes = np.fromiter((r[4] or plan.subgroup_size for r in rows), dtype=float, count=k)
    return Loaded([r[0] for r in rows], [r[1] for r in rows], values, defects, sizes)


def compute(plan: InspectionPlan, rows: Loaded) -> ChartData:
    baseline = plan.baseline_count if plan.limits_mode == "fixed" else None
    tests = tuple(plan.tests or [])
    if plan.chart_type in spc.VARIABLE_CHARTS:
        data = rows.values
        chart = spc.variable_chart(plan.chart_type, data, baseline)
        chart.primary.flags = spc.special_causes(chart.primary, tests)
        if chart.secondary is not None:
            # Dispersion charts get test 1 only (Minitab's convention for R, S and MR).
            chart.secondary.flags = spc.special_causes(chart.secondary, (1,) if 1 in tests else ())
        phases = spc.phase_capability(plan.chart_type, data, baseline, plan.lsl, plan.usl)
        # The headline figure is the latest phase: the process as it runs now.
        cap = phases[-1][1]
        hist = spc.histogram(data)
        decimals = min(spc.decimals_of(data) + 1, 8)
    else:
        chart = spc.attribute_chart(plan.chart_type, rows.defects, rows.sizes, baseline)
        chart.primary.flags = spc.special_causes(chart.primary, tuple(t for t in tests if t <= 4))
        cap, hist, phases = None, None, []
        decimals = 4
    return ChartData(chart, rows.seqs, [t.isoformat() for t in rows.times], cap, hist, phases, decimals)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A 10,000-point chart allocates tens of thousands of short-lived containers, which triggers full
    collections of the whole heap (~150 ms) in the middle of the request; reference counting frees all of
    it anyway, so the cyclic collector waits until the chart is done."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def chart(db: Session, actor: Actor, plan_id: int, last: int | None = None) -> ChartData | None:
    plan = get_plan(db, actor, plan_id)
    with _collector_paused():
        rows = _load(db, plan, min(last or MAX_CHART_POINTS, MAX_CHART_POINTS))
        if len(rows) < 2:
            return None
        return compute(plan, rows)


def _raise_alarms(db: Session, plan: InspectionPlan, first_seq: int) -> int:
    rows = _load(db, plan, MAX_CHART_POINTS)
    if len(rows) < 2:
        return 0
    data = compute(plan, rows)
    existing = set(
        db.execute(
            select(SpcAlarm.seq, SpcAlarm.test).where(SpcAlarm.plan_id == plan.id, SpcAlarm.seq >= first_seq)
        ).all()
    )
    made = 0
    for i, seq in enumerate(data.seqs):
        if seq < first_seq:
            continue
        for t in data.chart.primary.flags[i]:
            if (seq, t) not in existing:
                db.add(
                    SpcAlarm(org_id=plan.org_id, plan_id=plan.id, seq=seq, test=t, value=data.chart.primary.values[i])
                )
                made += 1
    return made


def list_alarms(db: Session, actor: Actor, status: str | None = "active", limit: int = 200) -> list[SpcAlarm]:
    stmt = select(SpcAlarm).where(SpcAlarm.org_id == actor.org_id)
    if status:
        stmt = stmt.where(SpcAlarm.status == status)
    return list(db.execute(stmt.order_by(SpcAlarm.id.desc()).limit(limit)).scalars().all())


def acknowledge(db: Session, actor: Actor, alarm_id: int) -> SpcAlarm:
    a = own(actor, db.get(SpcAlarm, alarm_id), N_("No such alarm, or it is not yours to see."))
    if a.status != "acknowledged":
        a.status = "acknowledged"
        a.acknowledged_by = actor.user.username
        record_by(db, actor, "acknowledge", "spc_alarm", a.id, after={"status": "acknowledged"})
        db.commit()
    return a  # type: ignore[no-any-return]


MAX_BULK_ACK = 1000


def acknowledge_many(db: Session, actor: Actor, alarm_ids: list[int] | None) -> int:
    """Acknowledge several open alarms at once (``None``: every open alarm of the enterprise), one audit
    entry each, one commit. Any id that is not the actor's refuses the whole request: nothing is saved."""
    if alarm_ids is None:
        alarms = list(
            db.execute(
                select(SpcAlarm)
                .where(SpcAlarm.org_id == actor.org_id, SpcAlarm.status == "active")
                .order_by(SpcAlarm.id)
                .limit(MAX_BULK_ACK)
            ).scalars()
        )
    else:
        ids = sorted(set(alarm_ids))
        if not ids:
            raise Invalid(N_("Select at least one alarm."), field="alarm_ids")
        if len(ids) > MAX_BULK_ACK:
            raise Invalid(N_("At most %(n)s alarms at once."), field="alarm_ids", n=MAX_BULK_ACK)
        alarms = [own(actor, db.get(SpcAlarm, i), N_("No such alarm, or it is not yours to see.")) for i in ids]
    n = 0
    for a in alarms:
        if a.status == "acknowledged":
            continue
        a.status = "acknowledged"
        a.acknowledged_by = actor.user.username
        record_by(db, actor, "acknowledge", "spc_alarm", a.id, after={"status": "acknowledged", "bulk": True})
        n += 1
    db.commit()
    return n


def open_alarm_count(db: Session, org_id: int) -> int:
    return int(
        db.execute(select(func.count()).where(SpcAlarm.org_id == org_id, SpcAlarm.status == "active")).scalar_one()
    )


def plan_or_404(db: Session, plan_id: int) -> InspectionPlan:
    p = db.get(InspectionPlan, plan_id)
    if p is None:
        raise NotFound(NOT_FOUND)
    return p


def lot_results(
    db: Session, org_id: int, device_id: int | None, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """SPC of a lot's window for other contexts (supply chain's incoming inspection): for each of the
    enterprise's plans on the lot's machine with subgroups in [start, end], the subgroups in the window, how
    many of them a test flagged, and the capability of the plan's latest phase. Empty when nothing was measured."""
    if device_id is None:
        return []
    plans = db.execute(
        select(InspectionPlan).where(InspectionPlan.org_id == org_id, InspectionPlan.device_id == device_id)
    ).scalars()
    out: list[dict[str, Any]] = []
    for plan in plans:
        with _collector_paused():
            rows = _load(db, plan, MAX_CHART_POINTS)
            inside = [i for i, t in enumerate(rows.times) if start <= t <= end]
            if not inside or len(rows) < 2:
                continue
            data = compute(plan, rows)
        flags = data.chart.primary.flags
        flagged = sum(1 for i in inside if i < len(flags) and flags[i])
        cap = data.capability
        out.append(
            {
                "plan": plan.name,
                "characteristic": plan.characteristic,
                "chart_type": plan.chart_type,
                "subgroups": len(inside),
                "flagged": flagged,
                "cpk": _clean(round(cap.cpk, 3)) if cap and cap.cpk is not None else None,
            }
        )
    return out
