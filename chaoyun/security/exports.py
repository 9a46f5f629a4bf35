"""Exports: the inspection campaign for the province (Excel, chaoyun.web.excel: text as text, widths, frozen header,
filter) and an incident's closing report (PDF in Chinese, ReportLab's STSong-Light as the programme's reports)."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.i18n import N_, get_locale, gettext, set_locale, translate
from chaoyun.identity.audit_labels import action_label, object_label
from chaoyun.identity.reference import DISTRICT_ZH, District
from chaoyun.security import engine, service
from chaoyun.security.incidents import service as incidents
from chaoyun.security.models import Campaign, Finding
from chaoyun.timefmt import format_dt
from chaoyun.web import excel
from chaoyun.web.render import cluster_name, district_name

ENTERPRISE_COLUMNS = [
    ("enterprise", N_("Enterprise")),
    ("district", N_("District")),
    ("industry", N_("Industry")),
    ("status", N_("Status")),
    ("self_score", N_("Self-check score")),
    ("onsite_score", N_("On-site score")),
    ("risk_score", N_("Risk score")),
    ("open_findings", N_("Open findings")),
    ("open_high", N_("Open high-risk findings")),
    ("overdue", N_("Overdue findings")),
    ("open_incidents", N_("Open high-severity incidents")),
]
FINDING_COLUMNS = [
    ("enterprise", N_("Enterprise")),
    ("district", N_("District")),
    ("item", N_("Checklist item")),
    ("domain", N_("Security domain")),
    ("risk", N_("Risk level")),
    ("description", N_("Description")),
    ("owner", N_("Remediation owner")),
    ("deadline", N_("Deadline")),
    ("status", N_("Status")),
    ("escalation", N_("Escalation")),
    ("source", N_("Source clause")),
]
HEAT_COLUMNS = [
    ("district", N_("District")),
    ("industry", N_("Industry")),
    ("enterprises", N_("Enterprises")),
    ("assessed", N_("Assessed")),
    ("mean_risk", N_("Mean risk score")),
]


def _t(table: dict[str, str], value: str | None) -> str:
    return gettext(table[value]) if value in table else (value or "")


def campaign_xlsx(db: Session, actor: Any, campaign: Campaign, rows: list[service.RiskRow]) -> bytes:
    """Three sheets for the province: enterprises with scores, findings, the heat map (district × industry)."""
    checklist = service.checklist_of(campaign)
    names = {r.org_id: r.name for r in rows}
    wb = excel.workbook()
    excel.write_table(
        excel.sheet(wb, gettext(N_("Enterprises"))),
        [gettext(h) for _k, h in ENTERPRISE_COLUMNS],
        [
            [
                r.name,
                district_name(r.district),
                cluster_name(r.cluster),
                _t(service.INSPECTION_STATES, r.status),
                r.self_score,
                r.onsite_score,
                r.risk_score,
                r.open_findings,
                r.open_high,
                r.overdue,
                r.open_incidents,
            ]
            for r in rows
        ],
        header_rows=[[k for k, _h in ENTERPRISE_COLUMNS]],
    )
    fs: list[Finding] = service.findings_of_campaign(db, actor, campaign.id)
    frows = []
    for f in fs:
        item = checklist.by_code.get(f.item_code)
        frows.append(
            [
                names.get(f.org_id, ""),
                district_name(f.district),
                f"{f.item_code} {gettext(item.title) if item else ''}",
                _t(engine.DOMAINS, f.domain),
                _t(engine.RISKS, f.risk),
                f.description,
                f.owner,
                f.deadline,
                _t(service.FINDING_STATES, f.status),
                _t(incidents.ESCALATIONS, f.escalation),
                item.source if item else "",
            ]
        )
    excel.write_table(
        excel.sheet(wb, gettext(N_("Findings"))),
        [gettext(h) for _k, h in FINDING_COLUMNS],
        frows,
        header_rows=[[k for k, _h in FINDING_COLUMNS]],
    )
    excel.write_table(
        excel.sheet(wb, gettext(N_("Heat map"))),
        [gettext(h) for _k, h in HEAT_COLUMNS],
        [
            [district_name(c.district), cluster_name(c.cluster), c.enterprises, c.assessed, c.mean_risk]
            for c in service.heatmap(rows)
        ],
        header_rows=[[k for k, _h in HEAT_COLUMNS]],
    )
    return excel.to_bytes(wb)


# ---------------------------------------------------------------- the incident's closing report (PDF)

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
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=12),
    }


def _p(text: str, style: Any) -> Any:
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def incident_pdf(tl: incidents.Timeline, org_name: str) -> bytes:
    """The closing report: who, when, what happened (the timeline), cause, actions, lessons — in Chinese."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

    inc = tl.incident
    zh = "zh_CN"
    st = _styles()
    buf = io.BytesIO()
    title = f"安全事件处置报告 · 事件 {inc.id}"
    doc = SimpleDocTemplate(buf, pagesize=A4, title=title, leftMargin=50, rightMargin=50, topMargin=50, bottomMargin=50)
    rep = inc.report or {}
    story: list[Any] = [
        _p(title, st["title"]),
        _p(
            f"企业：{org_name}　　所在区县：{_district_zh(inc.district)}",
            st["body"],
        ),
        _p(
            f"事件：{incidents.display_title(inc, zh)}　　"
            f"严重程度：{translate(incidents.SEVERITIES.get(inc.severity, inc.severity), zh)}　　"
            f"状态：{translate(incidents.STATES.get(inc.state, inc.state), zh)}　　"
            f"上报：{translate(incidents.ESCALATIONS.get(inc.escalation, inc.escalation), zh)}",
            st["body"],
        ),
        _p(
            f"首次发生：{format_dt(inc.first_at)}　　最后发生：{format_dt(inc.last_at)}　　"
            f"关闭时间：{format_dt(inc.closed_at, empty='—')}　　处置人：{inc.assignee_name or '—'}",
            st["body"],
        ),
        Spacer(1, 6),
        _p("一、事件经过（时间线）", st["h2"]),
    ]
    rows: list[list[Any]] = [["时间", "类别", "内容"]]
    for it in tl.entries:
        rows.append(
            [
                format_dt(it.at),
                translate(incidents.ITEM_KINDS.get(it.kind, it.kind), zh),
                _p(_entry_text(it, zh), st["small"]),
            ]
        )
    t = Table(rows, colWidths=[90, 70, 335], repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [
        t,
        _p("二、原因分析", st["h2"]),
        _p(rep.get("cause") or "—", st["body"]),
        _p("三、处置措施", st["h2"]),
        _p(rep.get("actions") or "—", st["body"]),
        _p("四、经验教训与改进", st["h2"]),
        _p(rep.get("lessons") or "—", st["body"]),
        Spacer(1, 10),
        _p(f"生成时间：{format_dt(_now())}　数据来源：平台入侵检测告警、设备告警、审计日志与设备数据。", st["small"]),
    ]
    doc.build(story)
    return buf.getvalue()


def _district_zh(code: str | None) -> str:
    return DISTRICT_ZH[District(code)] if code in {d.value for d in District} else (code or "")


def _now() -> Any:
    from chaoyun.db import utcnow

    return utcnow()


def _entry_text(it: Any, locale: str) -> str:
    d = it.details or {}
    if it.kind == "state":
        parts = []
        if "to" in d:
            parts.append(
                f"{translate(incidents.STATES.get(d.get('from', ''), ''), locale)} → "
                f"{translate(incidents.STATES.get(d['to'], d['to']), locale)}"
            )
        if "escalation" in d:
            parts.append(translate(incidents.ESCALATIONS[d["escalation"]], locale))
        if "assigned" in d:
            parts.append(f"{translate(N_('Assigned to'), locale)} {it.summary}")
            return "；".join(parts)
        if it.summary:
            parts.append(it.summary)
        return "；".join(parts)
    if it.kind == "ids_alert":
        return f"{it.summary}（{d.get('src', '')} → {d.get('dst', '')}）"
    if it.kind == "audit":
        before = get_locale()
        set_locale(locale)
        try:
            return (
                f"{d.get('username', '')} · {action_label(str(d.get('action', '')))} · "
                f"{object_label(str(d.get('object_type', '')))} {d.get('object_id', '')}"
            )
        finally:
            set_locale(before)
    return str(it.summary)
