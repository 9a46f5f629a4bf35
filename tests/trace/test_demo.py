"""The trace demo on the `factory` login: batches with a wheel lot traced to export buyers in one click."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoyun.trace import demo, graph
from tests.apps.helpers import new_device
from tests.test_route_security import org_of


def test_demo_traces_the_faulty_wheel_lot_to_its_buyers(db: Session, login: Any) -> None:
    org = org_of(db, "factory")
    new_device(db, org.id, "injection_moulding", "演示注塑机")
    out = demo.seed(db)
    assert "faulty wheel lot" in out and "own stock" in out  # no supply-chain demo in this database
    assert demo.seed(db) == out  # a second run changes nothing
    factory = login("factory")
    page = factory.get("/trace/recall")
    assert page.status_code == 200 and "data-recall" in page.text
    actor = demo._admin(db, "factory")
    assert actor is not None
    faulty = next(m.key for m, _ in graph.material_lots(db, actor) if m.key.endswith("STOCK1"))
    r = factory.get(f"/trace/recall?lot={faulty}")
    assert r.status_code == 200
    for buyer in ("Hamburg Spielwaren GmbH", "Osaka Toy Trading Co.", "Toys Direct Ltd"):
        assert buyer in r.text
    assert "Lyon Jouets SARL" not in r.text  # its batch used the other wheel lot
