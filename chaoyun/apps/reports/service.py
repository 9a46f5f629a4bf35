"""Daily / weekly / monthly production reports (PDF, Chinese) and Excel exports; the scheduler's job.

PDFs use ReportLab's built-in CJK font STSong-Light through UnicodeCIDFont (no font file to ship), as the
programme context's reports do.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.energy import service as energy
from chaoyun.apps.models import InspectionPlan, Report
from chaoyun.apps.oee import calendar as cal
from chaoyun.apps.oee import service as oee
from chaoyun.apps.quality import service as quality
from chaoyun.apps.scope import own
from chaoyun.errors import Invalid
from chaoyun.i18n import N_, translate
from chaoyun.identity.audit import record_by
from chaoyun.identity.permissions import Actor
from chaoyun.timefmt import format_date, format_dt

FONT = "STSong-Light"
KINDS = ("daily", "weekly", "monthly")
PERIOD_ZH = {"critical": "尖峰", "peak": "高峰", "flat": "平段", "valley": "低谷"}
SHEETS = {
    "machines": "By machine",
    "lines": "By line",
    "workshops": "By workshop",
    "days": "By day",
    "shifts": "By shift",
}
KIND_ZH = {"daily": "日报", "weekly": "周报", "monthly": "月报"}


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=15, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=24, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12.5, leading=19, spaceBefore=10, spaceAfter=4),
        "body": base,
    }


def _table(rows: list[list[Any]]) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table(rows, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
            ]
        )
    )
    return t


def _bars(labels: list[str], values: list[float]) -> Any:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    d = Drawing(470, 170)
    c = VerticalBarChart()
    c.x, c.y, c.width, c.height = 40, 30, 410, 120
    c.data = [values or [0.0]]
    c.categoryAxis.categoryNames = labels or [""]
    c.categoryAxis.labels.fontName = FONT
    c.categoryAxis.labels.fontSize = 7
    c.categoryAxis.labels.angle = 30
    c.categoryAxis.labels.boxAnchor = "ne"
    c.valueAxis.valueMin = 0
    c.bars[0].fillColor = colors.HexColor("#0d6efd")
    d.add(c)
    return d


def _f(v: Any) -> str:
    return "—" if v is None else f"{v}"


def period_of(kind: str, day: date) -> tuple[date, date]:
    """The period a report of this kind covers, ending on ``day`` (the day before the run)."""
    if kind == "daily":
        return day, day
    if kind == "weekly":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if kind == "monthly":
        start = day.replace(day=1)
        nxt = (start + timedelta(days=32)).replace(day=1)
        return start, nxt - timedelta(days=1)
    raise Invalid(N_("Reports are daily, weekly or monthly."), field="kind")


def build_pdf(db: Session, org_id: int, kind: str, first: date, last: date) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    from chaoyun.identity.models import Organisation

    st = _styles()
    org = db.get(Organisation, org_id)
    story: list[Any] = []

    def p(text: str, style: str = "body") -> None:
        story.append(Paragraph(escape(text), st[style]))

    p(f"{org.name if org else ''} 生产{KIND_ZH.get(kind, '报告')}", "title")
    p(
        f"统计期间：{format_date(first)} 至 {format_date(last)}（北京时间）　"
        f"生成时间：{format_dt(datetime.now(UTC))}"
    )
    # OEE
    per = oee.compute_period(db, org_id, first, last, keep_stops=True)
    total = per.summary()
    row = oee.oee_row("合计", total)
    p("一、设备综合效率（OEE）", "h2")
    if per.machines:
        p(
            f"OEE {_f(row['oee'])}% = 时间开动率 {_f(row['availability'])}% × 性能开动率 {_f(row['performance'])}% "
            f"× 合格品率 {_f(row['quality'])}%；计划生产 {row['planned_h']} 小时，"
            f"产量 {row['total']}，良品 {row['good']}。"
        )
        machines = oee.by_group(per, "machine")
        story.append(
            _table(
                [["设备", "OEE %", "开动率 %", "性能 %", "合格率 %", "产量", "不良"]]
                + [
                    [
                        m["name"],
                        _f(m["oee"]),
                        _f(m["availability"]),
                        _f(m["performance"]),
                        _f(m["quality"]),
                        m["total"],
                        m["rejects"],
                    ]
                    for m in machines
                ]
            )
        )
        par = oee.pareto(oee.stops(per))[:8]
        if par:
            p("停机原因排列（分钟）", "h2")
            story.append(_bars([translate(r["reason"], "zh_CN") for r in par], [r["minutes"] for r in par]))
    else:
        p("没有上报运行状态的设备。")
    # Quality
    p("二、质量（SPC）", "h2")
    plans = (
        db.execute(select(InspectionPlan).where(InspectionPlan.org_id == org_id).order_by(InspectionPlan.id))
        .scalars()
        .all()
    )
    qrows: list[list[Any]] = [["检验计划", "控制图", "子组数", "判异点", "能力阶段", "Cpk", "Ppk"]]
    for plan in plans:
        rows = quality._load(db, plan, 5000)
        if len(rows) < 2:
            continue
        data = quality.compute(plan, rows)
        flagged = sum(1 for f in data.chart.primary.flags if f)
        cap = data.capability
        qrows.append(
            [
                plan.name,
                translate(plan.chart_type, "zh_CN"),
                len(rows),
                flagged,
                # Limits fixed from a first phase: the capability shown is phase II's own (never a mix).
                {"all": "全部", "I": "阶段I", "II": "阶段II"}.get(data.phases[-1][0], "") if data.phases else "—",
                _f(round(cap.cpk, 3) if cap and cap.cpk is not None else None),
                _f(round(cap.ppk, 3) if cap and cap.ppk is not None else None),
            ]
        )
    if len(qrows) > 1:
        story.append(_table(qrows))
    else:
        p("尚无检验数据。")
    # Energy
    p("三、能耗与分时电费", "h2")
    er = energy.report(db, org_id, first, last)
    if er.devices:
        kwh = er.kwh_by_period()
        cost = er.cost()
        story.append(
            _table(
                [["时段", "电量 kWh", "电价 元/kWh", "电费 元"]]
                + [[PERIOD_ZH[k], f"{kwh[k]:.1f}", str(er.tariff.price(k)), str(cost[k])] for k in kwh]
                + [["合计", f"{er.total_kwh():.1f}", "", str(cost["total"])]]
            )
        )
        pu = er.per_unit()
        p(
            f"单位良品能耗：{'—' if pu is None else f'{pu:.4f}'} kWh/件（良品 {round(er.good_units())} 件）。"
            "电价为示例，可在配置中修改。"
        )
        shift = er.shifting()
        if shift:
            p("可转移至低谷时段的柔性负荷（估算）", "h2")
            a = er.flexible_assumption()
            p(
                f"以下为估算值，并非实测：假设公用设备（空压机、冷水机等）峰段电量的 {round(100 * a['utility'])}% "
                f"及生产设备峰段待机电量的 {round(100 * a['idle_machine'])}% 可转移至低谷，按峰谷电价差计算。"
            )
            story.append(
                _table(
                    [["设备", "类型", "假设可转移比例", "估算可转移电量 kWh", "估算节省 元"]]
                    + [
                        [
                            r["device"],
                            "公用设备" if r["kind"] == "utility" else "待机能耗",
                            f"{round(100 * r['assumed_flexible_share'])}%",
                            r["estimated_movable_kwh"],
                            str(r["estimated_saving_yuan"]),
                        ]
                        for r in shift
                    ]
                )
            )
        daily = er.daily()
        if len(daily) > 1:
            story.append(Spacer(1, 4 * mm))
            story.append(_bars([d[5:] for d, _ in daily], [round(v, 1) for _, v in daily]))
    else:
        p("没有电表或功率数据。")
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm
    )
    doc.build(story)
    return buf.getvalue()


def generate(db: Session, org_id: int, kind: str, day: date, actor: Actor | None = None) -> Report:
    """Build (or rebuild) the report of the period containing ``day``; a day still to come has no data yet
    and is refused."""
    today = datetime.now(cal.LOCAL).date()
    if day > today:
        raise Invalid(
            N_("%(day)s has not happened yet: reports cover days up to today (%(today)s)."),
            field="day",
            day=format_date(day),
            today=format_date(today),
        )
    first, last = period_of(kind, day)
    pdf = build_pdf(db, org_id, kind, first, last)
    rep = db.execute(
        select(Report).where(Report.org_id == org_id, Report.kind == kind, Report.period_start == first)
    ).scalar_one_or_none()
    if rep is None:
        rep = Report(org_id=org_id, kind=kind, period_start=first, period_end=last)
        db.add(rep)
    rep.filename = f"chaoyun-{kind}-{first.isoformat()}.pdf"
    rep.content = pdf
    rep.size = len(pdf)
    rep.created_at = datetime.now(cal.LOCAL)
    db.flush()
    record_by(db, actor, "generate", "report", rep.id, after={"kind": kind, "period_start": first.isoformat()})
    db.commit()
    return rep


def list_reports(db: Session, actor: Actor) -> list[Report]:
    return list(
        db.execute(
            select(Report)
            .where(Report.org_id == actor.org_id)
            .order_by(Report.period_start.desc(), Report.kind)
            .limit(200)
        ).scalars()
    )


def get_report(db: Session, actor: Actor, report_id: int) -> Report:
    return own(actor, db.get(Report, report_id), N_("No such report, or it is not yours to see."))  # type: ignore[no-any-return]


def due(db: Session, today: date) -> list[tuple[int, str, date]]:
    """Reports that should exist and don't: yesterday's daily report, last week's weekly report (on Mondays
    and after), for every enterprise with devices."""
    from chaoyun.devices.models import Device

    orgs = [int(o) for o in db.execute(select(Device.org_id).distinct()).scalars()]
    yesterday = today - timedelta(days=1)
    last_week = today - timedelta(days=today.weekday() + 1)
    wanted = [("daily", yesterday), ("weekly", last_week)]
    out = []
    for org in orgs:
        for kind, day in wanted:
            first, _ = period_of(kind, day)
            exists = db.execute(
                select(Report.id).where(Report.org_id == org, Report.kind == kind, Report.period_start == first)
            ).first()
            if exists is None:
                out.append((org, kind, day))
    return out


def run_due(db: Session, now: datetime | None = None) -> int:
    today = (now or datetime.now(cal.LOCAL)).astimezone(cal.LOCAL).date()
    n = 0
    for org, kind, day in due(db, today):
        generate(db, org, kind, day)
        n += 1
    return n


# ---------------------------------------------------------------- Excel


def _when(v: Any) -> Any:
    """ISO strings from the overview/chart payloads back to datetimes, so Excel gets real date cells."""
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(v)
        except ValueError:
            return v
    return v


def oee_workbook(ov: dict[str, Any]) -> bytes:
    from chaoyun.i18n import gettext
    from chaoyun.web import excel

    wb = excel.workbook()
    heads = [
        gettext(h)
        for h in (
            "Name",
            "OEE %",
            "availability",
            "performance",
            "quality",
            "Planned hours",
            "Output",
            "Good units",
            "Rejects",
        )
    ]
    for key in ("machines", "lines", "workshops", "days", "shifts"):
        rows = [
            [
                r["name"],
                r["oee"],
                r["availability"],
                r["performance"],
                r["quality"],
                r["planned_h"],
                r["total"],
                r["good"],
                r["rejects"],
            ]
            for r in ov[key]
        ]
        excel.write_table(excel.sheet(wb, gettext(SHEETS[key])), heads, rows)
    excel.write_table(
        excel.sheet(wb, gettext("Stops")),
        [gettext(h) for h in ("Device", "Start", "End", "Minutes", "State", "Stop reason")],
        [
            [s["device"], _when(s["start"]), _when(s["end"]), s["minutes"], gettext(s["state"]), gettext(s["reason"])]
            for s in ov["stops"]
        ],
    )
    return excel.to_bytes(wb)


def spc_workbook(plan: InspectionPlan, data: quality.ChartData) -> bytes:
    from chaoyun.i18n import gettext
    from chaoyun.web import excel

    wb = excel.workbook()
    sec = data.chart.secondary
    heads = ["#", gettext("Time"), data.chart.primary.name, "LCL", "CL", "UCL", gettext("Special-cause tests")] + (
        [sec.name, f"{sec.name} UCL"] if sec else []
    )
    rows = []
    for i, seq in enumerate(data.seqs):
        pr = data.chart.primary
        row: list[Any] = [
            seq,
            _when(data.times[i]),
            pr.values[i],
            pr.lcl[i],
            pr.center,
            pr.ucl[i],
            ",".join(str(t) for t in pr.flags[i]),
        ]
        if sec:
            v = sec.values[i]
            row += [None if v != v else v, sec.ucl[i]]
        rows.append(row)
    excel.write_table(excel.sheet(wb, "SPC"), heads, rows)
    if data.phases:
        # One column per phase (all subgroups; or phase I and phase II, each from its own data).
        excel.write_table(
            excel.sheet(wb, gettext("Capability")),
            [gettext("Capability"), *[gettext("Phase %(phase)s", phase=ph) for ph, _c in data.phases]],
            [
                [k, *[getattr(c, k) for _ph, c in data.phases]]
                for k in ("mean", "sigma_within", "sigma_overall", "cp", "cpk", "pp", "ppk", "n")
            ],
        )
    return excel.to_bytes(wb)
