"""To-do counts per role for the home pages (programme money workflows)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from chaoyun.programme.workflows import subsidies, vouchers
from chaoyun.programme.workflows.todo import todo_counts
from tests.programme_workflows.helpers import actor, claim, district_officer, eligible_provider, make_round
from tests.programme_workflows.test_subsidies import apply, fresh_enterprise, item


def _counts(db: Session, who: object) -> dict[str, int]:
    return {t.label_msgid: t.count for t in todo_counts(db, who)}  # type: ignore[arg-type]


def test_each_role_sees_its_waiting_work(db: Session) -> None:
    prov = eligible_provider(db)
    ent = fresh_enterprise(db)
    provider = actor(db, "provider")
    before = _counts(db, provider).get("Voucher contracts to confirm", 0)
    v = claim(db, ent, make_round(db), prov, "10000")  # type: ignore[arg-type]
    assert _counts(db, ent)["Voucher claims to finish and submit"] >= 1
    assert _counts(db, provider).get("Voucher contracts to confirm", 0) == before  # drafts are private
    vouchers.act(db, ent, v.id, "submit")  # type: ignore[arg-type]
    assert _counts(db, provider)["Voucher contracts to confirm"] == before + 1
    vouchers.act(db, provider, v.id, "confirm_contract")
    assert _counts(db, ent)["Vouchers to redeem"] >= 1

    a = apply(db, ent, [item("100000")])
    assert _counts(db, ent)["Subsidy applications to finish and submit"] >= 1
    subsidies.act(db, ent, a.id, "submit")  # type: ignore[arg-type,attr-defined]
    officer = district_officer(db, a.district)  # type: ignore[attr-defined]
    assert _counts(db, officer)["Subsidy applications awaiting district review"] >= 1
    subsidies.act(db, officer, a.id, "accept")  # type: ignore[attr-defined]
    subsidies.act(db, officer, a.id, "district_pass")  # type: ignore[attr-defined]
    expert = actor(db, "expert")
    due = _counts(db, expert)["Subsidy applications to score"]
    assert _counts(db, actor(db, "city"))["Subsidy applications awaiting city review"] >= 1
    subsidies.score(db, expert, a.id, {"technology": "30", "benefit": "20", "costs": "20"}, "")  # type: ignore[attr-defined]
    assert _counts(db, expert).get("Subsidy applications to score", 0) == due - 1
    assert not todo_counts(db, actor(db, "evaluator"))  # evaluators only read
