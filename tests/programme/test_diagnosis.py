"""Diagnosis: scoring against hand-computed examples, levels, pre-fill, expert adjustment, PDF, rules."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from chaoyun.errors import Conflict, Invalid
from chaoyun.programme import diagnosis as dg
from chaoyun.programme.models import Diagnosis
from chaoyun.programme.questionnaire import get_questionnaire, score
from tests.programme.helpers import actor

Q = get_questionnaire("sme-digital-level-2024")
ALL_SCENES = [s.key for s in Q.scenes]


def test_questionnaire_adds_up_to_100() -> None:
    assert sum(i.points for i in Q.items()) == 100
    assert len(Q.scenes) == 16 and sum(1 for s in Q.scenes if s.constrained) == 10


def test_hand_computed_example() -> None:
    answers = {
        "network": ["workshop_control_network", "industrial_5g"],  # 2 + 2
        "evidence": {"device_count": 40, "digitised_devices": 20, "networked_devices": 12},  # 50% → 4.5; 30% → 3
        "data_collection_areas": ["production", "quality", "hr"],  # 0.7 + 0.7 + 0.9
        "systems_coverage": "two_or_more",  # 5
        "network_security": ["policy", "products"],  # 2.5
        "planning_implementation": "plan",  # 3
        "mechanisms": ["workflow"],  # 1.875
        "talent": ["staff", "training"],  # 3
        "funding": "1_to_3",  # 3.75
        "energy_trend": "down",  # 7
        "pass_rate_trend": "same",  # 3.5
        "revenue_per_employee": "up",  # 3
        "cost_per_revenue": "up",  # 0
    }
    r = score(Q, answers)
    assert r.total == Decimal("46.425")
    assert r.groups["equipment"] == Decimal("11.5")
    assert r.groups["data_collection"] == Decimal("2.3")
    assert r.rates["device_digitisation_rate"] == 50
    # No scenes answered: the score reaches 二级 but the scene rule does not.
    assert r.score_level == 2 and r.level == 0 and r.scene_shortfall == "一级"


@pytest.mark.parametrize(
    "rate, points",
    [(0, "0"), (10, "0"), (10.5, "1.5"), (20, "1.5"), (20.5, "3"), (40, "3"), (60, "4.5"), (60.1, "6"), (100, "6")],
)
def test_rate_bands(rate: float, points: str) -> None:
    n = int(rate * 10)
    r = score(Q, {"evidence": {"device_count": 1000, "digitised_devices": n}})
    assert r.items["device_digitisation_rate"] == Decimal(points)


BASE = {
    "systems_coverage": "all",
    "planning_implementation": "shares",
    "energy_trend": "down",
    "pass_rate_trend": "up",
    "revenue_per_employee": "up",
    "cost_per_revenue": "down",
}  # 37.5
NET = ["workshop_control_network", "application_network", "industrial_5g", "full_coverage"]
TALENT = ["staff", "department", "training", "performance", "pipeline"]
COMBOS: dict[str, dict[str, Any]] = {
    "19.5": {
        "systems_coverage": "all",
        "energy_trend": "same",
        "revenue_per_employee": "up",
        "cost_per_revenue": "down",
    },
    "20": {"systems_coverage": "all", "energy_trend": "down", "revenue_per_employee": "up"},
    "39.5": {**BASE, "network": NET[:1]},
    "40": {**BASE, "cost_per_revenue": "same", "network": NET[:2]},
    "60": {
        **BASE,
        "funding": "over_5",
        "network": NET,
        "talent": TALENT[:3],
        "network_security": ["policy", "products"],
    },
    "59.5": {
        **BASE,
        "funding": "over_5",
        "network": NET[:3],
        "talent": TALENT[:4],
        "network_security": ["policy", "products"],
    },
}


def _with_score(target: str, scene_level: int, scene_count: int = 16) -> dict[str, Any]:
    """Answers worth exactly ``target`` points plus every scene at one level."""
    return {**COMBOS[target], "scenes": {k: scene_level for k in ALL_SCENES[:scene_count]}}


@pytest.mark.parametrize(
    "points, scenes, level",
    [
        ("19.5", 4, 0),
        ("20", 1, 1),  # lower bound inclusive
        ("39.5", 4, 1),
        ("40", 2, 2),
        ("40", 1, 1),  # score for 二级, scenes only for 一级
        ("60", 3, 3),
        ("59.5", 3, 2),
        ("60", 2, 2),
    ],
)
def test_level_boundaries(points: str, scenes: int, level: int) -> None:
    r = score(Q, _with_score(points, scenes))
    assert r.total == Decimal(points)
    assert r.level == level


def test_scene_rule_needs_constrained_scenes() -> None:
    constrained = [s.key for s in Q.scenes if s.constrained]
    free = [s.key for s in Q.scenes if not s.constrained]
    ans = _with_score("20", 0)
    ans["scenes"] = {k: 1 for k in free[:5] + constrained[:2]}  # 7 scenes, only 2 constrained
    assert score(Q, ans).level == 0
    ans["scenes"][constrained[2]] = 1
    assert score(Q, ans).level == 1


def test_self_assessment_expert_review_flow(db: Session) -> None:
    ent = actor(db, "operator")
    for d in db.query(Diagnosis).filter(Diagnosis.org_id == ent.org_id, Diagnosis.status != "completed"):
        d.status = "completed"
    db.commit()
    d = dg.start(db, ent)
    with pytest.raises(Conflict):
        dg.start(db, ent)  # one in progress at a time
    dg.save_answers(db, ent, d.id, {"systems_coverage": "one_area", "scenes": {"quality": "2"}})
    assert d.answers["systems_coverage"] == "one_area"
    with pytest.raises(Invalid):
        dg.save_answers(db, ent, d.id, {"systems_coverage": "everything"})
    expert = actor(db, "expert")
    with pytest.raises(Conflict):
        dg.adjust(db, expert, d.id, "systems_coverage", "all", "太早")  # still a draft
    dg.submit(db, ent, d.id)
    with pytest.raises(Conflict):
        dg.save_answers(db, ent, d.id, {"systems_coverage": "all"})
    with pytest.raises(Invalid):
        dg.adjust(db, expert, d.id, "systems_coverage", "two_or_more", "  ")  # a reason is required
    dg.adjust(db, expert, d.id, "systems_coverage", "two_or_more", "现场查看ERP与MES")
    dg.adjust(db, expert, d.id, "scene:quality", 3, "SPC在线运行")
    adj = dg.adjustments(db, d.id)
    assert [(a.item_key, a.before, a.after) for a in adj] == [
        ("systems_coverage", "one_area", "two_or_more"),
        ("scene:quality", 2, 3),
    ]
    dg.complete(db, expert, d.id, "建议加强数据采集")
    assert d.status == "completed" and d.score == Decimal("5") and d.level == 0 and d.year is not None
    with pytest.raises(Conflict):
        dg.complete(db, expert, d.id)


def test_rules_completed_and_upgraded(db: Session) -> None:
    org_id = actor(db, "factory2").org_id
    before_done = dg.completed_rule(db, 2020, None, None)
    before_up = dg.upgraded_rule(db, 2020, None, None)
    assert org_id not in (before_up.enterprise_ids or [])
    for year, level in ((2018, 1), (2019, 1), (2020, 2)):
        db.add(Diagnosis(org_id=org_id, questionnaire=Q.key, status="completed", answers={}, level=level, year=year))
    db.commit()
    assert org_id in (dg.completed_rule(db, 2018, None, None).enterprise_ids or [])
    assert org_id not in (dg.upgraded_rule(db, 2019, None, None).enterprise_ids or [])  # same level
    up = dg.upgraded_rule(db, 2020, None, None)
    assert org_id in (up.enterprise_ids or []) and up.value == before_up.value + 1
    assert dg.completed_rule(db, 2020, None, None).value == before_done.value + (
        0 if org_id in (before_done.enterprise_ids or []) else 1
    )
    assert dg.completed_rule(db, 2020, "chaonan", None).enterprise_ids is not None
    assert org_id not in (dg.completed_rule(db, 2020, "chaonan", None).enterprise_ids or [])


def test_pages_and_pdf(login: Any, db: Session) -> None:
    ent = login("factory")
    fa = actor(db, "factory")
    for d in db.query(Diagnosis).filter(Diagnosis.org_id == fa.org_id, Diagnosis.status != "completed"):
        d.status = "completed"
    db.commit()
    r = ent.post("/programme/diagnoses")
    assert r.status_code == 303, r.text
    url = r.headers["location"].split("?")[0]
    r = ent.post(
        url + "/answers",
        data={
            "item:network": ["workshop_control_network", "application_network"],
            "item:energy_trend": "down",
            "evidence:device_count": "10",
            "evidence:digitised_devices": "5",
            "scene:quality": "2",
        },
    )
    assert r.status_code == 303, r.text
    page = ent.get(url)
    assert page.status_code == 200 and "15.50" in page.text  # network 2 × 2 + 50 % digitised 4.5 + energy 7
    pdf = ent.get(url + "/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 2000
    assert b"STSong-Light" in pdf.content
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True).stdout
        assert "数字化水平诊断报告" in text.decode()
    assert login("factory2").get(url).status_code == 404
    assert login("factory2").get(url + "/report.pdf").status_code == 404
    assert ent.post(url + "/adjust", data={"item_key": "network", "value": "x", "reason": "y"}).status_code == 403
