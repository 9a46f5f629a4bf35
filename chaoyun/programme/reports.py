"""Chinese PDF reports (diagnosis, evaluation) and the evaluation Excel workbook.

PDFs use ReportLab's built-in CJK font STSong-Light (no font file to ship) and ReportLab graphics
for charts; the workbook uses openpyxl charts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from chaoyun.identity.reference import CLUSTER_ZH, DISTRICT_ZH, Cluster, District
from chaoyun.marketplace import service as marketplace
from chaoyun.programme import dashboard as dash
from chaoyun.programme.effect import exports as effect_exports
from chaoyun.programme.models import Diagnosis
from chaoyun.programme.pack import get_pack
from chaoyun.programme.questionnaire import Questionnaire, score, weakest_groups
from chaoyun.timefmt import format_date, local_today

FONT = "STSong-Light"


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=16, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=26, spaceAfter=8),
        "h2": ParagraphStyle("h2", parent=base, fontSize=13, leading=20, spaceBefore=10, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=13),
    }


def _bar_chart(labels: list[str], values: list[float], maxima: list[float] | None = None, width: int = 460) -> Any:
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    height = 30 + 22 * max(len(labels), 1)
    d = Drawing(width, height)
    c = HorizontalBarChart()
    c.x, c.y, c.width, c.height = 150, 15, width - 170, height - 25
    c.data = [values] + ([maxima] if maxima else [])
    c.categoryAxis.categoryNames = labels
    c.categoryAxis.labels.fontName = FONT
    c.categoryAxis.labels.fontSize = 8
    c.valueAxis.labels.fontName = FONT
    c.valueAxis.valueMin = 0
    c.bars[0].fillColor = colors.HexColor("#0d6efd")
    if maxima:
        c.bars[1].fillColor = colors.HexColor("#dee2e6")
    d.add(c)
    return d


def _table(rows: list[list[Any]], widths: list[float] | None = None) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table(rows, colWidths=widths, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return t


def _doc(buf: io.BytesIO, title: str) -> Any:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    return SimpleDocTemplate(
        buf, pagesize=A4, title=title, leftMargin=50, rightMargin=50, topMargin=50, bottomMargin=50
    )


def _p(text: str, style: Any) -> Any:
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(escape(text), style)


# ---------------------------------------------------------------- diagnosis report


def recommendations(db: Session, q: Questionnaire, answers: dict[str, Any], n: int = 3) -> list[dict[str, Any]]:
    """The weakest areas with provider offerings in their categories (when the resource pool answers)."""
    result = score(q, answers)
    out = []
    for group, share in weakest_groups(q, result, n):
        offers: list[Any] = list(marketplace.offerings_for_categories(db, group.offering_categories, 3))
        out.append({"group": group, "share": share, "score": result.groups[group.key], "offerings": offers})
    return out


STATUS_ZH = {"draft": "企业自评中", "submitted": "待专家评审", "completed": "已完成"}


def diagnosis_pdf(db: Session, d: Diagnosis, org: Organisation, q: Questionnaire) -> bytes:
    from reportlab.platypus import Spacer

    st = _styles()
    result = score(q, d.answers or {})
    level_zh = next(
        (lv.zh for lv in q.levels if lv.level == (d.level if d.level is not None else result.level)), "未达一级"
    )
    buf = io.BytesIO()
    doc = _doc(buf, f"{org.name} 数字化水平诊断报告")
    story: list[Any] = [
        _p(f"{org.name}", st["title"]),
        _p("数字化水平诊断报告（把脉问诊）", st["h2"]),
        _p(f"评测依据：{q.title_zh}（{q.document}）", st["body"]),
        _p(
            f"所在区县：{DISTRICT_ZH.get(District(org.district), org.district or '') if org.district else ''}　"
            f"状态：{STATUS_ZH.get(d.status, d.status)}　"
            f"报告日期：{format_date(local_today())}",
            st["body"],
        ),
        Spacer(1, 6),
        _p(f"总分：{result.total:.2f} 分　　数字化水平：{level_zh}", st["h2"]),
    ]
    if result.scene_shortfall:
        story.append(
            _p(f"注：得分已达{result.scene_shortfall}分数线，但业务场景数量或成熟度未达该级要求。", st["small"])
        )
    groups = q.groups()
    story += [
        _p("各评测维度得分", st["h2"]),
        _bar_chart(
            [g.zh for g in groups], [float(result.groups[g.key]) for g in groups], [float(g.points) for g in groups]
        ),
        _table(
            [["维度", "得分", "满分", "得分率"]]
            + [
                [g.zh, f"{result.groups[g.key]:.2f}", f"{g.points}", f"{(result.groups[g.key] / g.points * 100):.0f}%"]
                for g in groups
            ],
            [160, 80, 80, 80],
        ),
        _p("数字化经营场景等级（L0 = 未开展）", st["h2"]),
        _bar_chart(
            [s.zh + ("*" if s.constrained else "") for s in q.scenes], [float(result.scenes[s.key]) for s in q.scenes]
        ),
        _p("* 为约束性场景。", st["small"]),
    ]
    if d.evidenced:
        story.append(_p("平台数据佐证的答案", st["h2"]))
        for key in sorted(d.evidenced):
            story.append(_p(f"· {key}", st["small"]))
    story.append(_p("改进建议（得分率最低的环节）", st["h2"]))
    for rec in recommendations(db, q, d.answers or {}):
        g = rec["group"]
        story.append(_p(f"{g.zh}：得分 {rec['score']:.2f} / {g.points}（{rec['share'] * 100:.0f}%）。", st["body"]))
        offers = rec["offerings"]
        if offers is None:
            story.append(_p("　资源池服务目录暂不可用，无法推荐服务商。", st["small"]))
        elif not offers:
            story.append(_p("　资源池中暂无该类别的服务产品。", st["small"]))
        else:
            for o in offers:
                story.append(_p(f"　推荐：{o.name}（{o.provider_name}）", st["small"]))
    if d.expert_summary:
        story += [_p("专家意见", st["h2"]), _p(d.expert_summary, st["body"])]
    doc.build(story)
    return buf.getvalue()


# ---------------------------------------------------------------- evaluation


@dataclass
class SpendingRow:
    programme: str  # vouchers | subsidies
    year: int | None
    district: str | None
    cluster: str | None
    count: int
    amount: Decimal


def spending(db: Session) -> dict[str, list[SpendingRow] | None]:
    """Programme spending from the money workflows (rows with programme, year, district, cluster, count,
    amount)."""
    from chaoyun.programme.workflows import subsidies, vouchers  # the workflows import this package

    out: dict[str, list[SpendingRow] | None] = {}
    for name, fn in (("vouchers", vouchers.spending_rows), ("subsidies", subsidies.spending_rows)):
        out[name] = [
            SpendingRow(name, r.year, r.district, r.cluster, int(r.count), Decimal(str(r.amount))) for r in fn(db)
        ]
    return out


# How the plan's figure compares (pack.Comparison), for the Excel's 口径 column.
COMPARISON_ZH = {"at_least": "不低于", "more_than": "超过", "about": "约为", "range": "区间"}


def _status_zh(status: str) -> str:
    return {
        dash.MET: "已完成",
        dash.ON_TRACK: "符合进度",
        dash.AT_RISK: "略滞后",
        dash.BEHIND: "滞后",
        dash.UNAVAILABLE: "数据源暂不可用",
        dash.NO_PLAN: "无年度计划",
    }.get(status, status)


def _by(rows: list[SpendingRow], key: str) -> list[tuple[str, int, Decimal]]:
    acc: dict[str, tuple[int, Decimal]] = {}
    for r in rows:
        raw = getattr(r, key)
        if key == "district":
            label = DISTRICT_ZH.get(District(raw), raw) if raw in {d.value for d in District} else (raw or "未知")
        elif key == "cluster":
            label = CLUSTER_ZH.get(Cluster(raw), raw) if raw in {c.value for c in Cluster} else (raw or "未知")
        else:
            label = str(raw) if raw is not None else "未知"
        n, amt = acc.get(label, (0, Decimal(0)))
        acc[label] = (n + r.count, amt + r.amount)
    return [(k, n, a) for k, (n, a) in sorted(acc.items())]


def evaluation_pdf(db: Session) -> bytes:
    from reportlab.platypus import PageBreak

    pack = get_pack()
    st = _styles()
    rows = dash.dashboard(db)
    years = dash.years_shown(pack)
    buf = io.BytesIO()
    doc = _doc(buf, "工业互联网政策实施效果评估报告")
    story: list[Any] = [
        _p("工业互联网政策实施效果评估报告", st["title"]),
        _p(f"{pack.title_zh}（{pack.document}）", st["body"]),
        _p(
            f"实施期：{pack.period.start}—{pack.period.end}年　生成日期：{format_date(local_today())}　"
            "数据均由平台记录计算",
            st["small"],
        ),
        _p("一、目标完成情况", st["h2"]),
    ]
    header = ["目标", "计划", *[f"{y}年" for y in years], "状态", "牵头单位"]
    body = []
    for r in rows:
        t = r.target
        plan = t.plan_label
        if r.available:
            vals = [f"{c.actual:g}" + (f"/{c.planned}" if c.planned is not None else "") for c in r.years]
        else:
            vals = ["—"] * len(years)
        body.append(
            [_p(t.name_zh, st["small"]), plan, *vals, _p(_status_zh(r.status), st["small"]), _p(t.lead, st["small"])]
        )
    story.append(_table([header, *body], [120, 40, *([46] * len(years)), 62, 60]))
    avail = [r for r in rows if r.available and r.percent is not None]
    if avail:
        story += [
            _p("各目标完成率（%）", st["h2"]),
            _bar_chart([r.target.name_zh[:14] for r in avail], [float(r.percent or 0) for r in avail]),
        ]
    unavailable = [r for r in rows if not r.available]
    if unavailable:
        story.append(_p("数据源暂不可用的目标：" + "；".join(r.target.name_zh for r in unavailable), st["small"]))
    story += [PageBreak(), _p("二、资金使用情况", st["h2"])]
    for name, label in (("vouchers", "服务券"), ("subsidies", "创新补助与贯标奖励")):
        data = spending(db)[name]
        story.append(_p(label, st["h2"]))
        if data is None:
            story.append(_p("数据源暂不可用：该资金流程尚未提供统计。", st["body"]))
            continue
        if not data:
            story.append(_p("暂无已批准或已拨付的记录。", st["body"]))
            continue
        total = sum((r.amount for r in data), Decimal(0))
        story.append(_p(f"合计：{sum(r.count for r in data)} 笔，{total:,.2f} 元", st["body"]))
        for key, title in (("year", "按年度"), ("district", "按区县"), ("cluster", "按行业")):
            agg = _by(data, key)
            story.append(_p(title, st["body"]))
            story.append(
                _table([["分组", "笔数", "金额（元）"], *[[k, n, f"{a:,.2f}"] for k, n, a in agg]], [160, 80, 140])
            )
            if agg:
                story.append(_bar_chart([k for k, _, _ in agg], [float(a) for _, _, a in agg]))
    story += [PageBreak(), *effect_exports.pdf_story(db, st, _p, _table)]
    doc.build(story)
    return buf.getvalue()


def evaluation_xlsx(db: Session) -> bytes:
    from openpyxl.chart import BarChart, Reference

    from chaoyun.web import excel

    pack = get_pack()
    rows = dash.dashboard(db)
    years = dash.years_shown(pack)
    wb = excel.workbook()
    ws = excel.sheet(wb, "目标完成情况")
    table: list[list[Any]] = []
    for r in rows:
        t = r.target
        actual = [c.actual for c in r.years] if r.available else [None] * len(years)
        planned = (
            [c.planned for c in r.years]
            if r.available
            else [t.planned_by(min(y, pack.period.end), pack.period) for y in years]
        )
        table.append(
            [
                t.name_zh,
                t.key,
                t.target,
                COMPARISON_ZH.get(t.comparison, t.comparison),
                *actual,
                *planned,
                _status_zh(r.status),
                t.lead,
                "、".join(t.co_owners),
                t.rule,
                "" if r.available else "数据源暂不可用",
            ]
        )
    excel.write_table(
        ws,
        [
            "目标",
            "目标代码",
            "计划",
            "口径",
            *[f"{y}年实际" for y in years],
            *[f"{y}年计划" for y in years],
            "状态",
            "牵头单位",
            "配合单位",
            "计算规则",
            "说明",
        ],
        table,
    )
    chart = BarChart()
    chart.title = "目标完成情况（截至最近一年）"
    last_col = 4 + len(years)
    chart.add_data(Reference(ws, min_col=last_col, min_row=1, max_row=len(rows) + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=len(rows) + 1))
    chart.width, chart.height = 24, 12
    ws.add_chart(chart, f"A{len(rows) + 4}")

    # Progress by district and by industry for every target that can be broken down.
    for by, title, names in (("district", "按区县", DISTRICT_ZH), ("cluster", "按行业", CLUSTER_ZH)):
        codes = list(names)
        brows: list[list[Any]] = []
        for r in rows:
            if not r.available:
                continue
            br = dash.breakdown(db, r.target, years[-1], by)
            if br is None:
                brows.append([r.target.name_zh, "不分区县/行业统计"])
                continue
            brows.append([r.target.name_zh, *[v for _, v in br]])
        excel.write_table(excel.sheet(wb, title), ["目标", *[names[c] for c in codes]], brows)  # type: ignore[index]
    sp = spending(db)
    for name, label in (("vouchers", "服务券支出"), ("subsidies", "补助支出")):
        sheet = excel.sheet(wb, label)
        data = sp[name]
        if data is None:
            sheet.append(["数据源暂不可用：该资金流程尚未提供统计。"])
            continue
        excel.write_table(
            sheet,
            ["年度", "区县", "行业", "笔数", "金额（元）"],
            [
                [
                    s.year,
                    DISTRICT_ZH.get(District(s.district)) if s.district in {d.value for d in District} else s.district,
                    CLUSTER_ZH.get(Cluster(s.cluster)) if s.cluster in {c.value for c in Cluster} else s.cluster,
                    s.count,
                    s.amount,
                ]
                for s in data
            ],
        )
        for row in range(2, len(data) + 2):
            sheet.cell(row=row, column=5).number_format = "#,##0.00"
        if data:
            ch = BarChart()
            ch.title = label
            ch.add_data(Reference(sheet, min_col=5, min_row=1, max_row=len(data) + 1), titles_from_data=True)
            sheet.add_chart(ch, "H2")
    effect_exports.xlsx_sheet(db, wb)
    return excel.to_bytes(wb)
