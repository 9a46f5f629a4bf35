"""Aging report of one enterprise in a cluster of 300 enterprises with 20,000 invoices.

    .venv/bin/python benchmarks/supplychain_aging.py [--invoices 20000] [--runs 200] [--url postgresql+psycopg://...]

Seeds a fresh database (SQLite in a temporary folder, removed at exit, or the given URL) with the identity demo
(300 enterprises), then ten lead enterprises (the demo `factory` firm first) buying from the other enterprises:
one receipt of goods per invoice (order, line, shipment with a lot, receipt with a lot: the supply-chain tables)
and invoices spread over the last 200 days with 60-day terms, a third paid, a sixth half paid. Times
``terms.service.aging`` for the busiest lead (payables) and for suppliers (receivables), the JSON API and the page
``/supplychain/terms`` of the lead (signed in as `factory`), and prints p50 / p95. Target: the aging report for
one enterprise under 200 ms. Fails loudly on any error or on a non-200 answer.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

LEADS = 10


def pct(times: list[float], q: float) -> float:
    s = sorted(times)
    return round(s[max(int(q * len(s)) - 1, 0)], 1)


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--invoices", type=int, default=20000)
    ap.add_argument("--enterprises", type=int, default=300)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--url", default="")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-aging-"))
    atexit.register(shutil.rmtree, tmp, True)
    os.environ["CHAOYUN_DATABASE_URL"] = args.url or f"sqlite:///{tmp / 'bench.db'}"
    os.environ["CHAOYUN_VAR_DIR"] = str(tmp / "var")
    os.environ.setdefault("CHAOYUN_SECRET_KEY", "bench")
    os.environ["CHAOYUN_BACKGROUND"] = "0"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from fastapi.testclient import TestClient
    from sqlalchemy import insert, select, text

    from chaoyun import migrate, timefmt
    from chaoyun.db import get_sessionmaker
    from chaoyun.identity import demo
    from chaoyun.identity.models import Membership, Organisation, User
    from chaoyun.supplychain.models import OrderLine, PurchaseOrder, Receipt, ReceiptLot, Shipment, ShipmentLot
    from chaoyun.supplychain.terms import service
    from chaoyun.supplychain.terms.models import Invoice, ReceiptLedger
    from chaoyun.web.app import create_app

    rng = random.Random(2018)
    migrate.upgrade()
    t0 = time.perf_counter()
    with get_sessionmaker()() as db:
        demo.seed(db, enterprises=args.enterprises)
        factory_org = db.execute(
            select(Membership.org_id).join(User, User.id == Membership.user_id).where(User.username == "factory")
        ).scalar_one()
        ents = [
            o
            for (o,) in db.execute(
                select(Organisation.id).where(Organisation.kind == "enterprise").order_by(Organisation.id)
            ).all()
        ]
        leads = [factory_org, *[e for e in ents if e != factory_org][: LEADS - 1]]
        suppliers = [e for e in ents if e not in leads]
        today = timefmt.local_today()
        # Pairs: every supplier sells to one to three leads; the demo firm buys from most of them.
        pairs = []
        for s in suppliers:
            buyers = {leads[0]} if rng.random() < 0.6 else set()
            buyers |= set(rng.sample(leads[1:], rng.randint(1, 2)))
            pairs += [(b, s) for b in sorted(buyers)]
        lines: dict[tuple[int, int], tuple[int, int]] = {}
        for k, (b, s) in enumerate(pairs):
            po = db.execute(
                insert(PurchaseOrder)
                .values(number=f"PO-B{k}", buyer_org_id=b, supplier_org_id=s, source="import")
                .returning(PurchaseOrder.id)
            ).scalar_one()
            line = db.execute(
                insert(OrderLine)
                .values(
                    order_id=po,
                    buyer_org_id=b,
                    supplier_org_id=s,
                    line_no=1,
                    item_code="P-1",
                    item_name="注塑件",
                    quantity=10**6,
                    unit_price=Decimal("1.25"),
                    due_date=today,
                    state="confirmed",
                )
                .returning(OrderLine.id)
            ).scalar_one()
            lines[(b, s)] = (po, line)
        db.commit()
        weights = [6 if b == leads[0] else 1 for b, _s in pairs]
        chosen = rng.choices(pairs, weights=weights, k=args.invoices)
        batch = 2000
        for start in range(0, args.invoices, batch):
            part = chosen[start : start + batch]
            ships, slots, recs, rlots, invs, ledger = [], [], [], [], [], []
            base_id = start + 1
            for j, (b, s) in enumerate(part):
                i = base_id + j
                po, line = lines[(b, s)]
                age = rng.randint(1, 200)
                received = datetime.now(UTC) - timedelta(days=age)
                qty = rng.randint(100, 5000)
                value = (Decimal(qty) * Decimal("1.25")).quantize(Decimal("0.01"))
                ships.append(
                    dict(
                        id=i,
                        number=f"SH-{i}",
                        order_id=po,
                        buyer_org_id=b,
                        supplier_org_id=s,
                        state="received",
                        shipped_at=received,
                    )
                )
                slots.append(
                    dict(
                        id=i,
                        shipment_id=i,
                        line_id=line,
                        buyer_org_id=b,
                        lot_number=f"L{i}",
                        item_code="P-1",
                        quantity=qty,
                        inspection="pass",
                    )
                )
                recs.append(
                    dict(id=i, number=f"GR-{i}", shipment_id=i, buyer_org_id=b, supplier_org_id=s, received_at=received)
                )
                rlots.append(
                    dict(
                        receipt_id=i,
                        shipment_lot_id=i,
                        line_id=line,
                        result="pass",
                        received_qty=qty,
                        accepted_qty=qty,
                        unit_price=Decimal("1.25"),
                        value=value,
                    )
                )
                fen = int(value * 100)
                roll = rng.random()
                paid = fen if roll < 0.33 else fen // 2 if roll < 0.5 else 0
                rday: date = timefmt.to_local(received).date()
                invs.append(
                    dict(
                        number=f"FP-{i}",
                        receipt_id=i,
                        payer_org_id=b,
                        payee_org_id=s,
                        amount_fen=fen,
                        paid_fen=paid,
                        issued_on=rday,
                        received_on=rday,
                        terms_days=60,
                        due_on=rday + timedelta(days=60),
                        state="paid" if paid == fen else "open",
                        created_by="bench",
                    )
                )
                ledger.append(dict(receipt_id=i, value_fen=fen, invoiced_fen=fen))
            for model, rows in (
                (Shipment, ships),
                (ShipmentLot, slots),
                (Receipt, recs),
                (ReceiptLot, rlots),
                (Invoice, invs),
                (ReceiptLedger, ledger),
            ):
                db.execute(insert(model), rows)
            db.commit()
        if os.environ["CHAOYUN_DATABASE_URL"].startswith("postgresql"):
            for t in ("supplychain_shipments", "supplychain_shipment_lots", "supplychain_receipts"):
                db.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))
        db.execute(text("ANALYZE"))
        db.commit()
    seed_s = time.perf_counter() - t0

    results = []
    with get_sessionmaker()() as db:
        lead = leads[0]
        n_lead = len([1 for b, _s in chosen if b == lead])
        results.append(
            ("aging, lead as payer (service)", n_lead, timed(lambda: service.aging(db, lead, "payer"), args.runs))
        )
        busiest = max(suppliers, key=lambda s: sum(1 for _b, x in chosen if x == s))
        n_sup = sum(1 for _b, x in chosen if x == busiest)
        results.append(
            ("aging, supplier as payee (service)", n_sup, timed(lambda: service.aging(db, busiest, "payee"), args.runs))
        )
        rep = service.aging(db, lead, "payer")
        assert rep.rows and rep.overdue > 0, "the seeded lead has no overdue payables"

    from tests.conftest import demo_password  # the demo's password rule

    client = TestClient(create_app(), follow_redirects=False)
    page = client.get("/login")
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        "/login",
        data={"username": "factory", "password": demo_password("factory"), "csrf_token": csrf, "next": "/home"},
    )
    assert r.status_code == 303, r.text

    def get(url: str) -> Callable[[], object]:
        def call() -> object:
            resp = client.get(url)
            if resp.status_code != 200:
                raise SystemExit(f"{url}: {resp.status_code} {resp.text[:300]}")
            return resp

        return call

    runs = max(args.runs // 4, 20)
    results.append(
        (
            "GET /api/v1/supplychain/terms/aging?side=payer",
            n_lead,
            timed(get("/api/v1/supplychain/terms/aging?side=payer"), runs),
        )
    )
    results.append(
        ("GET /supplychain/terms?side=payer (page)", n_lead, timed(get("/supplychain/terms?side=payer"), runs))
    )

    backend = "postgresql" if os.environ["CHAOYUN_DATABASE_URL"].startswith("postgresql") else "sqlite"
    print(
        f"backend={backend} enterprises={len(ents)} invoices={args.invoices} pairs={len(pairs)} "
        f"(seeded in {seed_s:.1f} s); load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}"
    )
    print(f"{'what':<52}{'invoices':>9}{'p50 ms':>9}{'p95 ms':>9}")
    for what, n, times in results:
        print(f"{what:<52}{n:>9}{statistics.median(times):>9.1f}{pct(times, 0.95):>9.1f}")
    worst = max(pct(t, 0.95) for w, _n, t in results if "service" in w or "/api/" in w)
    print(f"aging report p95 {worst} ms (target < 200 ms): {'met' if worst < 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
