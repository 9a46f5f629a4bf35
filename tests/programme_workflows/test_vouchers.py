"""Service vouchers: the plan's numbers at their boundaries, windows, illegal transitions, budget and quota."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.identity.models import AuditEntry
from chaoyun.programme.pack import get_pack
from chaoyun.programme.workflow_models import VoucherProviderQuota, VoucherRound, WorkflowTransition
from chaoyun.programme.workflows import files, vouchers
from chaoyun.programme.workflows.workflow import IllegalTransition
from tests.programme_workflows.helpers import (
    PDF,
    actor,
    admin_of,
    claim,
    district_officer,
    eligible_provider,
    make_round,
    rich_enterprises,
)

D = Decimal


def docs(pdf: bytes = PDF) -> list[files.Upload]:
    return [files.Upload(k, f"{k}.pdf", pdf) for k in ("invoice", "payment_proof", "acceptance_report")]


def redeem(db: Session, who: object, v_id: int, paid: str, invoice: str, **kw: object) -> object:
    return vouchers.redeem(db, who, v_id, vouchers.RedemptionIn(D(paid), invoice, docs()), **kw)  # type: ignore[arg-type]


@pytest.fixture()
def setup(db: Session) -> dict[str, object]:
    prov = eligible_provider(db)
    ents = rich_enterprises(db, 4)
    return {"provider": prov, "prov_actor": actor(db, "provider"), "ents": [admin_of(db, e) for e in ents]}


def test_full_flow_amounts_and_audit(db: Session, setup: dict[str, object]) -> None:
    ent = setup["ents"][0]  # type: ignore[index]
    prov = setup["provider"]
    rnd = make_round(db, ratio="0.5", cap="100000")
    v = claim(db, ent, rnd, prov, "20000", [("cloud_resources", "12000"), ("automation_equipment", "8000")])  # type: ignore[arg-type]
    # The automation equipment item is excluded with its reason; the face value is 50 % of the eligible 12,000.
    assert [i.eligible for i in v.items] == [True, False]
    assert "automation" in v.items[1].excluded_reason
    assert v.eligible_amount == D("12000.00") and v.face_value == D("6000.00")
    vouchers.act(db, ent, v.id, "submit")  # type: ignore[arg-type]
    vouchers.act(db, setup["prov_actor"], v.id, "confirm_contract")  # type: ignore[arg-type]
    db.refresh(rnd)
    assert rnd.committed == D("6000.00")
    # Pays exactly 90 % of the contract: reimbursable = 50 % × (18,000 × 12/20) = 5,400; 600 go back to the budget.
    redeem(db, ent, v.id, "18000", "INV-FLOW-1")
    db.refresh(v)
    db.refresh(rnd)
    assert v.state == "district_review" and v.reimbursable == D("5400.00") and rnd.committed == D("5400.00")
    vouchers.act(db, district_officer(db, v.district), v.id, "district_pass")
    city = actor(db, "city")
    vouchers.act(db, city, v.id, "city_pass")
    with pytest.raises(Conflict):  # the notice has not run its course
        vouchers.act(db, city, v.id, "conclude_notice")
    assert vouchers.conclude_due_notices(db, city, rnd.id, now=utcnow() + timedelta(days=5, seconds=1)) == 1
    batch = vouchers.pay_batch(db, city, rnd.id, "PAY-2019-001")
    db.refresh(v)
    db.refresh(rnd)
    assert v.state == "paid" and batch.total == D("5400.00") and rnd.paid_total == D("5400.00")
    assert vouchers.redeemed_by_provider(db, prov.id, rnd.year) >= D("5400.00")  # type: ignore[union-attr]
    assert sum(r.amount for r in vouchers.spending_rows(db) if r.district == v.district) >= D("5400.00")
    assert vouchers.provider_has_contract(db, prov.id, ent.org_id)  # type: ignore[union-attr]
    # Every transition is logged and audited.
    n = db.execute(
        select(func.count())
        .select_from(WorkflowTransition)
        .where(WorkflowTransition.workflow == "voucher", WorkflowTransition.subject_id == v.id)
    ).scalar_one()
    assert n == 7
    audited = db.execute(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.object_type == "voucher", AuditEntry.object_id == str(v.id))
    ).scalar_one()
    assert audited == 8  # creation + 7 transitions
    # Cannot be redeemed twice.
    with pytest.raises(IllegalTransition) as exc:
        redeem(db, ent, v.id, "20000", "INV-FLOW-2")
    msgs = exc.value.messages()
    assert "提交兑现" in msgs["zh"] and "已拨付" in msgs["zh"]
    assert "Submit for redemption" in msgs["en"] and "Paid" in msgs["en"]


@pytest.mark.parametrize(("paid", "ok"), [("9000.00", True), ("8999.99", False), ("10000.00", True)])
def test_payment_must_reach_ninety_percent(db: Session, setup: dict[str, object], paid: str, ok: bool) -> None:
    assert get_pack().vouchers.min_payment_ratio == D("0.90")
    ent = setup["ents"][1]  # type: ignore[index]
    rnd = make_round(db)
    v = claim(db, ent, rnd, setup["provider"], "10000")  # type: ignore[arg-type]
    vouchers.act(db, ent, v.id, "submit")  # type: ignore[arg-type]
    vouchers.act(db, setup["prov_actor"], v.id, "confirm_contract")  # type: ignore[arg-type]
    if ok:
        redeem(db, ent, v.id, paid, f"INV-90-{v.id}")
        db.refresh(v)
        assert v.state == "district_review"
    else:
        with pytest.raises(Invalid) as exc:
            redeem(db, ent, v.id, paid, f"INV-90-{v.id}")
        assert exc.value.field == "actual_paid"
        assert "90%" in exc.value.messages()["zh"]


def test_windows_are_half_open(db: Session, setup: dict[str, object]) -> None:
    ent = setup["ents"][2]  # type: ignore[index]
    rnd = make_round(db)
    v = claim(db, ent, rnd, setup["provider"], "10000")  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        vouchers.act(db, ent, v.id, "submit", now=rnd.claim_opens - timedelta(microseconds=1))  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        vouchers.act(db, ent, v.id, "submit", now=rnd.claim_closes)  # type: ignore[arg-type]
    vouchers.act(db, ent, v.id, "submit", now=rnd.claim_closes - timedelta(microseconds=1))  # type: ignore[arg-type]
    vouchers.act(db, setup["prov_actor"], v.id, "confirm_contract", now=rnd.claim_opens)  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        redeem(db, ent, v.id, "10000", f"INV-W-{v.id}", now=rnd.redeem_closes)
    with pytest.raises(Conflict):
        redeem(db, ent, v.id, "10000", f"INV-W-{v.id}", now=rnd.redeem_opens - timedelta(seconds=1))
    redeem(db, ent, v.id, "10000", f"INV-W-{v.id}", now=rnd.redeem_opens)


def test_illegal_transitions_and_wrong_party(db: Session, setup: dict[str, object]) -> None:
    ent = setup["ents"][3]  # type: ignore[index]
    rnd = make_round(db)
    v = claim(db, ent, rnd, setup["provider"], "10000")  # type: ignore[arg-type]
    with pytest.raises(IllegalTransition) as exc:  # the enterprise cannot redeem its draft
        redeem(db, ent, v.id, "10000", "INV-DRAFT")
    assert exc.value.status == 409 and "草稿" in exc.value.messages()["zh"] and "Draft" in exc.value.messages()["en"]
    # A draft is private to the enterprise: the provider and the city do not even see it.
    with pytest.raises(NotFound):
        vouchers.act(db, setup["prov_actor"], v.id, "confirm_contract")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        vouchers.act(db, actor(db, "city"), v.id, "city_pass")
    vouchers.act(db, ent, v.id, "submit")  # type: ignore[arg-type]
    with pytest.raises(IllegalTransition):
        vouchers.act(db, actor(db, "city"), v.id, "city_pass")
    with pytest.raises(Forbidden) as wrong:  # the enterprise cannot confirm its own contract
        vouchers.act(db, ent, v.id, "confirm_contract")  # type: ignore[arg-type]
    assert "服务商" in wrong.value.messages()["zh"]
    with pytest.raises(IllegalTransition):
        redeem(db, ent, v.id, "10000", "INV-ILLEGAL")
    db.refresh(v)
    assert v.state == "submitted"


def test_excluded_only_claim_cannot_be_submitted(db: Session, setup: dict[str, object]) -> None:
    ent = setup["ents"][0]  # type: ignore[index]
    rnd = make_round(db)
    v = claim(db, ent, rnd, setup["provider"], "5000", [("non_cloud_software", "5000")])  # type: ignore[arg-type]
    assert v.face_value == 0
    with pytest.raises(Invalid):
        vouchers.act(db, ent, v.id, "submit")  # type: ignore[arg-type]


def test_budget_and_quota_never_overspent(db: Session, setup: dict[str, object]) -> None:
    ents = setup["ents"]
    # Budget for exactly two vouchers of 5,000.
    rnd = make_round(db, budget="10000", ratio="0.5")
    vs = []
    for e in ents[:3]:  # type: ignore[index]
        v = claim(db, e, rnd, setup["provider"], "10000")  # type: ignore[arg-type]
        vouchers.act(db, e, v.id, "submit")
        vs.append(v)
    vouchers.act(db, setup["prov_actor"], vs[0].id, "confirm_contract")  # type: ignore[arg-type]
    vouchers.act(db, setup["prov_actor"], vs[1].id, "confirm_contract")  # type: ignore[arg-type]
    with pytest.raises(Conflict) as exc:
        vouchers.act(db, setup["prov_actor"], vs[2].id, "confirm_contract")  # type: ignore[arg-type]
    assert "预算" in exc.value.messages()["zh"]
    db.refresh(rnd)
    assert rnd.committed == rnd.budget
    # Withdrawing an issued voucher releases its money: the third can now be issued.
    vouchers.act(db, ents[0], vs[0].id, "withdraw")  # type: ignore[index]
    vouchers.act(db, setup["prov_actor"], vs[2].id, "confirm_contract")  # type: ignore[arg-type]
    # Provider quota: a round capping the provider at 5,000 takes one voucher only.
    rnd2 = make_round(db, budget="100000", quota="5000")
    a = claim(db, ents[1], rnd2, setup["provider"], "10000")  # type: ignore[index,arg-type]
    b = claim(db, ents[2], rnd2, setup["provider"], "10000")  # type: ignore[index,arg-type]
    for e, v in ((ents[1], a), (ents[2], b)):  # type: ignore[index]
        vouchers.act(db, e, v.id, "submit")
    vouchers.act(db, setup["prov_actor"], a.id, "confirm_contract")  # type: ignore[arg-type]
    with pytest.raises(Conflict) as q:
        vouchers.act(db, setup["prov_actor"], b.id, "confirm_contract")  # type: ignore[arg-type]
    assert "额度" in q.value.messages()["zh"]
    used = db.execute(select(VoucherProviderQuota.used).where(VoucherProviderQuota.round_id == rnd2.id)).scalar_one()
    assert used == D("5000.00")


def test_bad_uploads_are_refused_clearly(db: Session, setup: dict[str, object]) -> None:
    ent = setup["ents"][1]  # type: ignore[index]
    rnd = make_round(db)
    v = claim(db, ent, rnd, setup["provider"], "10000")  # type: ignore[arg-type]
    vouchers.act(db, ent, v.id, "submit")  # type: ignore[arg-type]
    vouchers.act(db, setup["prov_actor"], v.id, "confirm_contract")  # type: ignore[arg-type]
    bad = [files.Upload("invoice", "a.exe", b"MZ\x90\x00"), *docs()[1:]]
    with pytest.raises(Invalid) as exc:
        vouchers.redeem(db, ent, v.id, vouchers.RedemptionIn(D("10000"), "INV-BAD", bad))  # type: ignore[arg-type]
    assert "PDF" in exc.value.messages()["zh"] and exc.value.field == "invoice"
    with pytest.raises(Invalid):
        vouchers.redeem(db, ent, v.id, vouchers.RedemptionIn(D("10000"), "INV-BAD", docs()[:2]))  # type: ignore[arg-type]
    db.refresh(v)
    assert v.state == "issued"  # nothing half-done
    assert db.get(VoucherRound, rnd.id) is not None
