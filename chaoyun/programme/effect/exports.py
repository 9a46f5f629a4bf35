"""The effect figures for the evaluation exports (PDF, Excel) and the public page.

Every instrument against the main outcomes (OEE, quality rate, energy per unit), city-wide, with intervals;
groups under five enterprises appear as withheld. Computed once and kept for ``CACHE_S`` seconds per process
(and recomputed at once when the outcome snapshots change), since the public page is open to anyone.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.i18n import translate
from chaoyun.programme.effect import service
from chaoyun.programme.outcomes import service as outcomes

CACHE_S = 600.0
_lock = threading.Lock()
_cache: dict[str, tuple[float, Any, list[service.EffectResult]]] = {}

HEADERS_ZH = [
    "政策工具",
    "成效指标",
    "参与企业",
    "纳入估计的参与企业",
    "对照企业",
    "效果估计",
    "95％区间下限",
    "95％区间上限",
    "参与前走势差异",
    "投入资金（元）",
    "每单位改善资金（元/家/单位）",
    "说明",
]


@dataclass
class Line:
    instrument: str
    outcome: str
    result: service.EffectResult


def _key(db: Session) -> Any:
    return service.snapshot_version(db)


def results(db: Session) -> list[service.EffectResult]:
    """``service.summary`` with a short per-process cache."""
    key = _key(db)
    now = time.monotonic()
    with _lock:
        hit = _cache.get("summary")
        if hit is not None and hit[1] == key and now - hit[0] < CACHE_S:
            return hit[2]
    out = service.summary(db)
    with _lock:
        _cache["summary"] = (now, key, out)
    return out


def forget() -> None:
    with _lock:
        _cache.clear()


def zh(msgid: str, **params: Any) -> str:
    return translate(msgid, "zh_CN", **params)


def rows_zh(db: Session) -> list[list[Any]]:
    """One row per instrument and outcome, in Chinese, numbers as numbers (Excel) — withheld groups say why."""
    out: list[list[Any]] = []
    for r in results(db):
        head = [zh(service.INSTRUMENT_LABELS[r.instrument]), zh(outcomes.LABELS[r.outcome]), r.participants]
        if not r.shown or r.estimate is None:
            out.append([*head, r.treated, r.controls, None, None, None, None, None, None, zh(r.withheld or "", n=5)])
            continue
        e, p = r.estimate, r.pretrend
        note = zh(r.money_note) if r.money_note else ""
        if r.pretrend_ok is False:
            note = (note + " " + zh(service.PRETREND_WARNING)).strip()
        out.append(
            [
                *head,
                r.treated,
                r.controls,
                round(e.value, 5),
                round(e.low, 5),
                round(e.high, 5),
                round(p.value, 5) if p else None,
                r.money_total,
                r.money_per_unit,
                note,
            ]
        )
    return out


def caveats_zh() -> list[str]:
    return [zh(c) for c in service.CAVEATS] + [zh(service.METHOD_NOTE, n=service.MIN_GROUP)]


def pdf_story(db: Session, st: dict[str, Any], p: Any, table: Any) -> list[Any]:
    """The evaluation PDF's section on policy effect (``p``: paragraph maker, ``table``: table maker)."""
    story: list[Any] = [
        p("三、政策效果（参与企业与匹配对照企业的双重差分估计）", st["h2"]),
        p(
            "对每项政策工具，比较参与企业参与前后各6个月的成效变化与同行业、同区县、同规模档次未参与企业同期的变化；"
            "区间为以企业为单位的自助法95％区间。成效由平台记录按平台规则逐月计算。",
            st["small"],
        ),
    ]
    body = []
    for row in rows_zh(db):
        inst, outc, parts, treated, controls, est, lo, hi, _pre, _money, per, note = row
        if est is None:
            body.append([p(inst, st["small"]), p(outc, st["small"]), parts, "—", "—", p(note, st["small"]), ""])
            continue
        k = 4 if abs(hi - lo) < 0.05 else 2
        body.append(
            [
                p(inst, st["small"]),
                p(outc, st["small"]),
                parts,
                f"{treated}/{controls}",
                f"{est:+.{k}f}",
                f"{lo:+.{k}f} … {hi:+.{k}f}",
                f"{per:,.2f}" if per is not None else "—",
            ]
        )
    header = ["政策工具", "成效指标", "参与企业", "参与/对照", "效果", "95％区间", "每单位改善资金（元）"]
    story.append(table([header, *body], [70, 80, 44, 54, 44, 90, 80]))
    for c in caveats_zh():
        story.append(p("· " + c, st["small"]))
    return story


def xlsx_sheet(db: Session, wb: Any) -> None:
    """The evaluation workbook's sheet 政策效果."""
    from chaoyun.web import excel

    ws = excel.sheet(wb, "政策效果")
    excel.write_table(ws, HEADERS_ZH, rows_zh(db))
    for row in range(2, ws.max_row + 1):
        for col in (10, 11):
            ws.cell(row=row, column=col).number_format = "#,##0.00"
    notes = excel.sheet(wb, "政策效果说明")
    excel.write_table(notes, ["说明"], [[c] for c in caveats_zh()])


def public_lines(db: Session) -> list[service.EffectResult]:
    """What the public page shows: only figures of groups of at least five enterprises."""
    return [r for r in results(db) if r.shown]
