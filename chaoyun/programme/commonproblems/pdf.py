"""The common-problem report as a Chinese PDF (ReportLab's STSong-Light, as the diagnosis report) and an Excel
workbook (chaoyun.web.excel). Both render a ``service.Report``: a group it marks not shown carries no figure and
is printed as "样本不足 5 家，不予显示"."""

from __future__ import annotations

import io
from typing import Any

from chaoyun.identity.reference import CLUSTER_ZH, DISTRICT_ZH, Cluster, District
from chaoyun.programme.commonproblems import service
from chaoyun.programme.commonproblems.service import GroupRow, Report, Weakness
from chaoyun.programme.reports import _bar_chart, _doc, _p, _styles, _table
from chaoyun.timefmt import format_dt

TITLE = "行业共性问题改进建议报告"
SUPPRESSED_ZH = "样本不足 5 家，不予显示"
ROLE_ZH = {"leader": "领先企业典型", "laggard": "落后企业典型"}


def _pc(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"


def _num(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _group_name(code: str, by: str) -> str:
    if by == "cluster":
        return CLUSTER_ZH[Cluster(code)] if code in {c.value for c in Cluster} else code
    return DISTRICT_ZH[District(code)] if code in {d.value for d in District} else code


def _area_zh(rep: Report) -> dict[str, str]:
    return {g.key: g.zh for g in service.questionnaire().groups()}


def weakness_rows(ws: list[Weakness], quartiles: bool) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for i, w in enumerate(ws, 1):
        mean = f"{w.mean:.2f} / {w.maximum:g}" if w.kind == "area" else f"L{w.mean:.1f} / L4"
        rows.append(
            [
                i,
                w.zh,
                mean,
                _pc(w.share),
                _pc(w.below),
                f"{_pc(w.p25)}–{_pc(w.p75)}",
                _pc(w.leaders) if quartiles else "—",
                _pc(w.laggards) if quartiles else "—",
                _pc(w.gap) if quartiles else "—",
            ]
        )
    return rows


WEAKNESS_HEADERS = [
    "排名",
    "环节",
    "平均得分/满分",
    "得分率",
    "低于阈值企业占比",
    "P25–P75",
    "领先企业",
    "落后企业",
    "差距",
]
SCENE_HEADERS = ["场景" if h == "环节" else h for h in WEAKNESS_HEADERS]


def group_rows(rows: list[GroupRow], by: str, names: dict[str, str]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for r in rows:
        if not r.shown:
            out.append([_group_name(r.code, by), SUPPRESSED_ZH, "", "", ""])
            continue
        out.append(
            [
                _group_name(r.code, by),
                r.n,
                _num(r.mean_score),
                f"{_num(r.p25)}–{_num(r.p75)}",
                "、".join(names[k] for k in r.weakest),
            ]
        )
    return out


GROUP_HEADERS = ["分组", "企业数", "平均总分", "P25–P75", "最薄弱的三个环节"]


def _wrapped(rows: list[list[Any]], style: Any) -> list[list[Any]]:
    """PDF cells: the suppression note and long texts as paragraphs, so they wrap inside their column."""
    return [[_p(c, style) if isinstance(c, str) and len(c) > 8 else c for c in row] for row in rows]


def report_pdf(rep: Report) -> bytes:
    from reportlab.platypus import Spacer

    st = _styles()
    buf = io.BytesIO()
    doc = _doc(buf, TITLE)
    names = _area_zh(rep)
    story: list[Any] = [
        _p(TITLE, st["title"]),
        _p(f"统计范围：{service.filters_label(rep.filters)}　生成时间：{format_dt(rep.generated_at)}", st["body"]),
        _p(
            "数据来源：平台上已完成的诊断（每家企业取最新一次）与平台采集的生产数据；"
            f"少于 {service.MIN_GROUP} 家企业的分组不予显示。",
            st["small"],
        ),
        Spacer(1, 6),
    ]
    if not rep.shown:
        story.append(_p(f"本范围内已完成诊断的企业：{SUPPRESSED_ZH}。", st["h2"]))
    else:
        story += [
            _p("一、总体情况", st["h2"]),
            _p(
                f"已完成诊断的企业 {rep.n} 家；平均总分 {_num(rep.mean_score)} 分，"
                f"四分位区间 {_num(rep.p25)}–{_num(rep.p75)} 分。",
                st["body"],
            ),
            _p(
                "等级分布："
                + "；".join(
                    f"{'未达一级' if lv == 0 else service.questionnaire().levels[lv - 1].zh} {n} 家"
                    for lv, n in rep.levels.items()
                ),
                st["body"],
            ),
            _p("；".join(f"{zh} 平均得分率 {_pc(v)}" for zh, _, v in rep.dimensions), st["body"]),
            _p("二、薄弱环节排名（得分率由低到高）", st["h2"]),
            _bar_chart([w.zh for w in rep.areas], [round(w.share * 100, 1) for w in rep.areas]),
            _table(
                [WEAKNESS_HEADERS, *weakness_rows(rep.areas, rep.quartiles_shown)], [26, 70, 62, 40, 56, 60, 44, 44, 36]
            ),
            _p(f"阈值：环节得分低于满分的 {service.WEAK_AREA_SHARE * 100:.0f}%。", st["small"]),
            _p("三、数字化经营场景排名（L0–L4）", st["h2"]),
            _table(
                [SCENE_HEADERS, *weakness_rows(rep.scenes, rep.quartiles_shown)],
                [26, 70, 62, 40, 56, 60, 44, 44, 36],
            ),
            _p(f"阈值：场景等级低于 L{service.WEAK_SCENE_LEVEL}。", st["small"]),
            _p("四、领先企业与落后企业的差距", st["h2"]),
        ]
        if rep.quartiles_shown:
            story.append(
                _p(
                    f"领先企业（总分不低于第 75 百分位）{rep.leaders_n} 家，落后企业（总分不高于第 25 百分位）"
                    f"{rep.laggards_n} 家；各环节得分率与差距见上表。",
                    st["body"],
                )
            )
            biggest = [w for w in sorted(rep.areas, key=lambda w: -(w.gap or 0))[:3] if (w.gap or 0) > 0]
            if biggest:
                story.append(_p("差距最大的环节：" + "、".join(f"{w.zh}（{_pc(w.gap)}）" for w in biggest), st["body"]))
        else:
            story.append(_p(f"领先或落后企业{SUPPRESSED_ZH}。", st["body"]))
        story.append(_p("五、平台数据", st["h2"]))
        prow: list[list[Any]] = [["指标", "有数据企业", "平均", "P25", "中位数", "P75", "领先企业", "落后企业"]]
        for o in rep.outcomes:
            label = service.OUTCOME_LABELS[o.key][1]
            if not o.shown:
                prow.append([label, SUPPRESSED_ZH, "", "", "", "", "", ""])
            else:
                prow.append(
                    [
                        label,
                        o.n,
                        _num(o.mean),
                        _num(o.p25),
                        _num(o.median),
                        _num(o.p75),
                        _num(o.leaders),
                        _num(o.laggards),
                    ]
                )
        story.append(_table(_wrapped(prow, st["small"]), [110, 90, 44, 44, 44, 44, 48, 48]))
        story.append(_p("六、典型案例", st["h2"]))
        for c in rep.cases:
            weak = "、".join(f"{zh} {_pc(v)}" for zh, v in c.weakest)
            story.append(
                _p(
                    f"{ROLE_ZH[c.role]}：{c.label_zh}，总分 {c.score:.2f} 分，"
                    f"{'未达一级' if not c.level else service.questionnaire().levels[c.level - 1].zh}；"
                    f"得分率最低的环节：{weak}。",
                    st["body"],
                )
            )
        story.append(_p("未经企业同意不公开企业名称。", st["small"]))
        story.append(_p("七、改进建议与资源池服务", st["h2"]))
        for w in rep.weaknesses:
            story.append(
                _p(
                    f"{w.zh}（{'环节' if w.kind == 'area' else '场景'}）：平均得分率 {_pc(w.share)}，"
                    f"{_pc(w.below)} 的企业低于阈值。",
                    st["body"],
                )
            )
            if not w.offerings:
                story.append(_p("　资源池中暂无该类别的服务产品。", st["small"]))
            for o in w.offerings:
                story.append(_p(f"　推荐：{o.name}（{o.provider_name}）", st["small"]))
    story.append(_p("附一、分行业", st["h2"]))
    story.append(
        _table(
            _wrapped([GROUP_HEADERS, *group_rows(rep.by_cluster, "cluster", names)], st["small"]), [70, 90, 60, 70, 200]
        )
    )
    if rep.by_district:
        story.append(_p("附二、分区县", st["h2"]))
        rows = _wrapped([GROUP_HEADERS, *group_rows(rep.by_district, "district", names)], st["small"])
        story.append(_table(rows, [70, 90, 60, 70, 200]))
    doc.build(story)
    return buf.getvalue()


def report_xlsx(rep: Report) -> bytes:
    from openpyxl.chart import BarChart, Reference

    from chaoyun.web import excel

    names = _area_zh(rep)
    wb = excel.workbook()
    ws = excel.sheet(wb, "概况")
    overview: list[list[Any]] = [
        ["报告", TITLE],
        ["统计范围", service.filters_label(rep.filters)],
        ["生成时间", format_dt(rep.generated_at)],
    ]
    if rep.shown:
        overview += [
            ["已完成诊断企业（家）", rep.n],
            ["平均总分", round(rep.mean_score or 0, 2)],
            ["总分 P25", round(rep.p25 or 0, 2)],
            ["总分 P75", round(rep.p75 or 0, 2)],
            ["领先企业（家）", rep.leaders_n if rep.quartiles_shown else SUPPRESSED_ZH],
            ["落后企业（家）", rep.laggards_n if rep.quartiles_shown else SUPPRESSED_ZH],
        ]
    else:
        overview.append(["已完成诊断企业", SUPPRESSED_ZH])
    excel.write_table(ws, ["项目", "内容"], overview)
    if rep.shown:
        for title, ws_rows in (("薄弱环节", rep.areas), ("经营场景", rep.scenes)):
            sheet = excel.sheet(wb, title)
            headers = WEAKNESS_HEADERS if title == "薄弱环节" else SCENE_HEADERS
            excel.write_table(sheet, headers, weakness_rows(ws_rows, rep.quartiles_shown))
            chart = BarChart()
            chart.type = "bar"
            chart.title = f"{title}得分率"
            data = excel.sheet(wb, f"{title}图表数据")
            excel.write_table(data, ["环节", "得分率（%）"], [[w.zh, round(w.share * 100, 1)] for w in ws_rows])
            chart.add_data(Reference(data, min_col=2, min_row=1, max_row=len(ws_rows) + 1), titles_from_data=True)
            chart.set_categories(Reference(data, min_col=1, min_row=2, max_row=len(ws_rows) + 1))
            chart.width, chart.height = 18, 10
            sheet.add_chart(chart, f"A{len(ws_rows) + 4}")
        pl = excel.sheet(wb, "平台数据")
        excel.write_table(
            pl,
            ["指标", "有数据企业", "平均", "P25", "中位数", "P75", "领先企业", "落后企业"],
            [
                [service.OUTCOME_LABELS[o.key][1], SUPPRESSED_ZH, None, None, None, None, None, None]
                if not o.shown
                else [service.OUTCOME_LABELS[o.key][1], o.n, o.mean, o.p25, o.median, o.p75, o.leaders, o.laggards]
                for o in rep.outcomes
            ],
        )
        cs = excel.sheet(wb, "典型案例")
        excel.write_table(
            cs,
            ["类型", "企业", "是否同意公开名称", "总分", "等级", "得分率最低的环节"],
            [
                [
                    ROLE_ZH[c.role],
                    c.label_zh,
                    "是" if c.named else "否（匿名）",
                    c.score,
                    c.level,
                    "、".join(f"{zh} {_pc(v)}" for zh, v in c.weakest),
                ]
                for c in rep.cases
            ],
        )
        rec = excel.sheet(wb, "改进建议")
        rows: list[list[Any]] = []
        for w in rep.weaknesses:
            offers = w.offerings or [None]
            for o in offers:
                rows.append(
                    [
                        w.zh,
                        "环节" if w.kind == "area" else "场景",
                        _pc(w.share),
                        _pc(w.below),
                        o.name if o else "资源池中暂无该类别的服务产品",
                        o.provider_name if o else "",
                    ]
                )
        excel.write_table(rec, ["薄弱环节", "类型", "平均得分率", "低于阈值企业占比", "推荐服务", "服务商"], rows)
    excel.write_table(excel.sheet(wb, "分行业"), GROUP_HEADERS, group_rows(rep.by_cluster, "cluster", names))
    if rep.by_district:
        excel.write_table(excel.sheet(wb, "分区县"), GROUP_HEADERS, group_rows(rep.by_district, "district", names))
    return excel.to_bytes(wb)
