"""The trace graph: built from production lots, supply-chain shipments and own deliveries; backward and forward
(recall) traces; cycles refused; what other enterprises' nodes show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.production import service as production
from chaoyun.production.models import Lot
from chaoyun.supplychain import logistics
from chaoyun.supplychain import service as supplychain
from chaoyun.supplychain.logistics import LotOut
from chaoyun.trace import exports, graph, service
from tests.supplychain.helpers import line, make, order, pair
from tests.trace.helpers import lot, material, toy_firm


def _keys(g: graph.Graph, kind: str) -> set[str]:
    return {n.key for n in g.of_kind(kind)}


def test_recall_follows_semi_finished_lots_to_customers_and_backward_finds_the_materials(db: Session) -> None:
    f = toy_firm(db)
    material(db, f, "ABS-M")
    body = lot(db, f, "BODY-1", [("ABS-M", "ABS-BAD")], item_code="BODY", hours_ago=30)
    lot(db, f, "BODY-2", [("ABS-M", "ABS-GOOD")], item_code="BODY", hours_ago=29)
    car1 = lot(db, f, "CAR-1", [("BODY-M", "BODY-1"), ("PAINT-M", "P-7")])
    car2 = lot(db, f, "CAR-2", [("BODY-M", "BODY-1"), ("BODY-M", "BODY-2")])
    lot(db, f, "CAR-3", [("BODY-M", "BODY-2")])
    now = datetime.now(UTC)
    graph.record_delivery(db, f.admin, "CAR-1", "Hamburg Toys GmbH", 300, now, "DE", "EXP-1")
    graph.record_delivery(db, f.admin, "CAR-2", "Osaka Trading", 200, now, "JP", "EXP-2")
    graph.record_delivery(db, f.admin, "CAR-3", "Lyon Jouets", 100, now, "FR", "EXP-3")

    g = graph.recall(db, f.admin, "ABS-BAD")
    assert _keys(g, "lot") == {"BODY-1", "CAR-1", "CAR-2"}
    assert g.customers() == ["Hamburg Toys GmbH", "Osaka Trading"]
    rows = graph.recall_rows(g)
    assert {r["reference"] for r in rows} == {"EXP-1", "EXP-2"}
    assert g.depth[g.start.id] == 0 and max(g.depth.values()) == 4  # mat → BODY-1 → mat → CAR → delivery
    # Backward from a finished lot: every material lot that went in, through the semi-finished lots.
    b = graph.backward(db, f.admin, "CAR-2")
    assert _keys(b, "mat") >= {"ABS-BAD", "ABS-GOOD", "BODY-1", "BODY-2"}
    assert "P-7" not in _keys(b, "mat")
    assert _keys(b, "lot") == {"CAR-2", "BODY-1", "BODY-2"}
    # The recall list as Excel: a real workbook with the two deliveries.
    from io import BytesIO

    from openpyxl import load_workbook

    wb = load_workbook(BytesIO(exports.recall_xlsx(g)))
    ws = wb.worksheets[0]
    refs = {ws.cell(r, 2).value for r in range(3, ws.max_row + 1)}
    assert refs == {"EXP-1", "EXP-2"} and ws.freeze_panes == "A3"
    assert body.id and car1.id and car2.id
    # Rebuilding from production's lots (in pages) changes nothing: the hook linked them already.
    mine = production.lots_after(db, 0, 1000, f.org.id)
    assert {lt.number for lt in mine} == {"BODY-1", "BODY-2", "CAR-1", "CAR-2", "CAR-3"}
    assert graph.rebuild(db, f.org.id, page=2) == 5
    assert _keys(graph.recall(db, f.admin, "ABS-BAD"), "lot") == {"BODY-1", "CAR-1", "CAR-2"}


def test_cycles_are_refused_with_a_clear_message(db: Session) -> None:
    f = toy_firm(db)
    assert not graph.traceability_running(db, f.org.id)
    lot(db, f, "A-1", [("BODY-M", "B-1")], item_code="BODY", hours_ago=20)
    # B-1 would consume A-1, which already consumed B-1: production refuses the lot, nothing is saved.
    with pytest.raises(Conflict) as exc:
        lot(db, f, "B-1", [("BODY-M", "A-1")], item_code="BODY")
    db.rollback()
    m = exc.value.messages()
    assert "cycle" in m["en"] and "循环" in m["zh"]
    assert production.lot_by_number(db, f.org.id, "B-1") is None
    # A manual link that closes a loop is refused too; a harmless one is kept.
    lot(db, f, "C-1", [("ABS-M", "ABS-1")], item_code="BODY", hours_ago=10)
    assert graph.traceability_running(db, f.org.id)
    lot(db, f, "C-2", [("BODY-M", "C-1")], item_code="CAR", hours_ago=8)
    with pytest.raises(Conflict) as exc:
        graph.link_lots(db, f.admin, "C-2", "C-1")
    assert exc.value.field == "into_lot"
    with pytest.raises(Conflict):
        graph.link_lots(db, f.admin, "C-1", "C-1")
    graph.link_lots(db, f.admin, "A-1", "C-1")
    assert "C-2" in _keys(graph.recall(db, f.admin, "A-1"), "lot")
    with pytest.raises(Invalid):
        graph.link_lots(db, f.admin, "NO-SUCH", "C-1")


def test_unknown_lot_is_a_404_and_an_empty_number_is_invalid(db: Session) -> None:
    f = toy_firm(db)
    with pytest.raises(NotFound):
        graph.recall(db, f.admin, "NOPE")
    with pytest.raises(Invalid):
        graph.recall(db, f.admin, "  ")


def test_supplier_lot_to_toy_maker_to_customers_through_supply_chain_shipments(db: Session) -> None:
    """A plastic supplier's lot is shipped to a toy maker (supplychain), consumed in the toy maker's lot, whose
    goods are shipped on (own delivery): the supplier's recall reaches the toy maker's lot only once the toy maker
    authorised it; the toy maker's backward trace reaches the supplier's shipment."""
    p = pair(db)
    po = order(db, p, line(qty=100, price="2.50"))
    ln = supplychain.confirm_line(db, p.supplier.admin, po.lines[0].id)
    shell = make(db, p, ln, 120)
    assert isinstance(shell, Lot)
    s = logistics.create_shipment(db, p.supplier.admin, po.id, [LotOut(ln.id, shell.number, 100)])
    # The toy maker consumes the shell lot under the supplier's lot number.
    maker = p.lead
    from tests.production.helpers import product as make_product

    make_product(db, maker, code="CAR")
    material(db, maker, "SHELL-M")
    from tests.trace.helpers import lot as make_lot

    car = make_lot(db, maker, "TOY-1", [("SHELL-M", shell.number)])
    graph.record_delivery(db, maker.admin, car.number, "Hamburg Toys GmbH", 100, datetime.now(UTC))

    back = graph.backward(db, maker.admin, "TOY-1")
    ships = back.of_kind("ship")
    assert [n.ref_id for n in ships] == [s.id]  # the supplier's shipment to us is ours to see
    assert back.hidden >= 1  # the supplier's own lot is not shown without authorisation

    fwd = graph.recall(db, p.supplier.admin, shell.number)
    assert [n.customer_org_id for n in fwd.of_kind("ship")] == [maker.org.id]
    assert "TOY-1" not in _keys(fwd, "lot") and fwd.hidden >= 1
    maker.org.credit_code = f"9144{maker.org.id:014d}"
    p.supplier.org.credit_code = f"9144{p.supplier.org.id:014d}"
    db.commit()
    service.add_grant(db, maker.admin, p.supplier.org.credit_code)
    fwd = graph.recall(db, p.supplier.admin, shell.number)
    assert "TOY-1" in _keys(fwd, "lot")
    assert "Hamburg Toys GmbH" in fwd.customers()
    assert any(r["reference"] and r["kind"] == "ship" for r in graph.recall_rows(fwd))
    assert timedelta(0) <= datetime.now(UTC) - ships[0].at
