from __future__ import annotations

from sqlalchemy.orm import Session

from chaoyun.programme.workflows import demo


def test_demo_seed_is_idempotent(db: Session) -> None:
    demo.seed(db)
    assert demo.seed(db) == {"voucher_rounds": 0, "shared_services": 0, "demo_calls": 0}
