"""Supply-chain pages under load: a cluster of 300 enterprises with 20,000 open order lines; the supplier's inbox
and the lead's order overview, p50 / p95 per scenario. Target on the 2-core machine: p95 < 100 ms.

    .venv/bin/python benchmarks/supplychain_pages.py [--enterprises 300] [--lines 20000] [--leads 20]
                                                      [--clients 1,4] [--seconds 10] [--database-url URL]

Seeds a fresh database (SQLite under a temporary folder, removed at exit, unless --database-url is given): the
demo cluster, then partnerships and purchase orders written in bulk — every lead (`factory`'s firm first) orders
from 30 suppliers, the demo `supplier` login's firm among them for half the leads; lines open (awaiting the
supplier), proposed, or confirmed with progress figures, plus delivered lines of closed orders. Starts the server as
a separate process (`chaoyun serve`), signs in as `factory` and `supplier` and times the pages with sequential and
concurrent clients. Exits non-zero on any error answer.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pages import free_port, login, scenario  # noqa: E402

ITEMS = ["PT-WHEEL", "PT-BRICK", "MD-INSERT", "MD-PIN", "PK-BOX", "PK-MANUAL", "PT-AXLE", "PK-LABEL"]
RISKS = ["on_track", "on_track", "at_risk", "late", "", "overdue"]


def seed_orders(lines: int, leads_n: int) -> dict[str, int]:
    """Bulk rows through the ORM tables (no per-row rules: the rules are timed by the tests, not here)."""
    from datetime import timedelta
    from decimal import Decimal

    from sqlalchemy import insert, select

    from chaoyun import timefmt
    from chaoyun.db import get_sessionmaker, utcnow
    from chaoyun.identity.models import Membership, Organisation, User
    from chaoyun.supplychain.models import OrderLine, Partnership, PurchaseOrder

    db = get_sessionmaker()()

    def org_of(username: str) -> int:
        return int(
            db.execute(
                select(Membership.org_id).join(User, User.id == Membership.user_id).where(User.username == username)
            ).scalar_one()
        )

    factory, supplier = org_of("factory"), org_of("supplier")
    ents = list(
        db.execute(
            select(Organisation.id)
            .where(Organisation.kind == "enterprise", Organisation.status == "active")
            .order_by(Organisation.id)
        ).scalars()
    )
    rest = [o for o in ents if o not in (factory, supplier)]
    leads = [factory, *rest[: leads_n - 1]]
    sups = [supplier, *rest[leads_n - 1 :]]
    now = utcnow()
    today = timefmt.local_today()
    pairs: list[tuple[int, int]] = []
    for i, lead in enumerate(leads):
        mine = [sups[(i * 13 + k) % len(sups)] for k in range(30)]
        if i % 2 == 0 and supplier not in mine:
            mine[0] = supplier
        pairs += [(lead, s) for s in mine]
    db.execute(
        insert(Partnership),
        [
            {"buyer_org_id": b, "supplier_org_id": s, "state": "active", "invited_at": now, "answered_at": now}
            for b, s in pairs
        ],
    )
    per_order = 5
    orders_per_lead = max(1, lines // per_order // len(leads))
    closed_per_lead = max(1, orders_per_lead // 4)
    order_rows = []
    meta = []
    for i, lead in enumerate(leads):
        mine = [s for b, s in pairs if b == lead]
        for k in range(orders_per_lead + closed_per_lead):
            sup = mine[k % len(mine)]
            closed = k >= orders_per_lead
            order_rows.append(
                {
                    "number": f"PO{i:03d}{k:05d}",
                    "buyer_org_id": lead,
                    "supplier_org_id": sup,
                    "reference": f"B-{k}",
                    "source": "import",
                    "state": "closed" if closed else "open",
                    "created_by": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            meta.append((lead, sup, closed))
    db.execute(insert(PurchaseOrder), order_rows)
    ids = dict(db.execute(select(PurchaseOrder.number, PurchaseOrder.id)).all())
    line_rows = []
    n = 0
    for row, (lead, sup, closed) in zip(order_rows, meta, strict=True):
        oid = ids[row["number"]]
        for no in range(1, per_order + 1):
            n += 1
            qty = 100 * (1 + n % 50)
            kind = n % 10
            state = "delivered" if closed else ("open" if kind < 3 else "proposed" if kind == 3 else "confirmed")
            confirmed = state in ("confirmed", "delivered")
            line_rows.append(
                {
                    "order_id": oid,
                    "buyer_org_id": lead,
                    "supplier_org_id": sup,
                    "line_no": no,
                    "item_code": ITEMS[n % len(ITEMS)],
                    "item_name": f"零件 {n % 97}",
                    "quantity": qty,
                    "unit_price": Decimal("0.35") + Decimal(n % 40) / 10,
                    "due_date": today + timedelta(days=n % 30),
                    "state": state,
                    "proposed_quantity": qty - 10 if state == "proposed" else None,
                    "answer_note": "",
                    "work_order_number": f"{row['number']}-{no}" if confirmed else "",
                    "made_qty": (qty if closed else (n * 37) % qty) if confirmed else 0,
                    "forecast_finish": now + timedelta(hours=n % 200) if state == "confirmed" else None,
                    "risk": RISKS[n % len(RISKS)] if state == "confirmed" else "",
                    "progress_at": now if confirmed else None,
                    "shipped_qty": qty if closed else 0,
                    "accepted_qty": qty if closed else 0,
                    "returned_qty": 0,
                    "confirmed_at": now if confirmed else None,
                    "updated_at": now,
                }
            )
    for i in range(0, len(line_rows), 5000):
        db.execute(insert(OrderLine), line_rows[i : i + 5000])
    db.commit()
    open_lines = sum(1 for r in line_rows if r["state"] in ("open", "proposed", "confirmed"))
    factory_open = sum(1 for r in line_rows if r["buyer_org_id"] == factory and r["state"] != "delivered")
    supplier_open = sum(1 for r in line_rows if r["supplier_org_id"] == supplier and r["state"] != "delivered")
    db.close()
    return {
        "open_lines": open_lines,
        "all_lines": len(line_rows),
        "factory_open": factory_open,
        "supplier_open": supplier_open,
        "leads": len(leads),
        "suppliers": len({s for _b, s in pairs}),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def seed(env: dict[str, str], enterprises: int, lines: int, leads: int) -> None:
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from chaoyun import migrate; from chaoyun.db import get_sessionmaker; from chaoyun.identity import demo\n"
        "migrate.upgrade()\n"
        f"db = get_sessionmaker()(); demo.seed(db, enterprises={enterprises}); db.close()\n"
        "from benchmarks.supplychain_pages import seed_orders\n"
        f"print('seeded', json.dumps(seed_orders({lines}, {leads})))\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--enterprises", type=int, default=300)
    ap.add_argument("--lines", type=int, default=20_000)
    ap.add_argument("--leads", type=int, default=20)
    ap.add_argument("--clients", default="1,4")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-bench-sc-"))
    atexit.register(shutil.rmtree, tmp, True)
    env = os.environ.copy()
    env.update(
        {
            "CHAOYUN_VAR_DIR": str(tmp),
            "CHAOYUN_DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
            "CHAOYUN_SECRET_KEY": "bench",
            "CHAOYUN_BACKGROUND": "0",
        }
    )
    print(
        f"seeding {args.enterprises} enterprises and {args.lines:,} open order lines "
        f"into {env['CHAOYUN_DATABASE_URL']} ...",
        flush=True,
    )
    seed(env, args.enterprises, args.lines, args.leads)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "chaoyun", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=ROOT,
    )
    atexit.register(server.terminate)
    failed = False
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        factory, supplier = login(base, "factory"), login(base, "supplier")
        scenarios = [
            ("lead's order overview, page 1", factory, ["/supplychain"]),
            (
                "lead's overview: deep page, filters, sort, search",
                factory,
                [
                    "/supplychain?page=20",
                    "/supplychain?view=confirmed&sort=-due",
                    "/supplychain?risk=late",
                    "/supplychain?view=todo&sort=quantity",
                    "/supplychain?q=PT-WHEEL&size=100",
                ],
            ),
            ("supplier inbox, page 1", supplier, ["/supplychain/inbox"]),
            (
                "supplier inbox: to answer, deep page, sort",
                supplier,
                [
                    "/supplychain/inbox?view=todo",
                    "/supplychain/inbox?page=5",
                    "/supplychain/inbox?sort=-quantity",
                    "/supplychain/inbox?size=100",
                ],
            ),
        ]
        for name, cookies, urls in scenarios:
            with httpx.Client(base_url=base, cookies=cookies, timeout=30) as c:
                for u in urls:  # warm up, and prove every page answers
                    r = c.get(u)
                    if r.status_code != 200:
                        raise SystemExit(f"{u}: HTTP {r.status_code}")
            for clients in [int(x) for x in args.clients.split(",")]:
                cpu0 = cpu_seconds(server.pid)
                res = asyncio.run(scenario(base, cookies, urls, clients, args.seconds))
                # Server CPU per request: what one request costs regardless of what else the machine runs.
                cpu_ms = (cpu_seconds(server.pid) - cpu0) * 1000 / max(1, res["requests"])
                verdict = "ok" if res["p95_ms"] < 100 else "TARGET MISSED"
                print(
                    f"{name:52s} clients={clients}: {res['requests']:5d} req, {res['rps']:6.1f}/s, "
                    f"p50 {res['p50_ms']:6.1f} ms, p95 {res['p95_ms']:6.1f} ms, max {res['max_ms']:6.1f} ms, "
                    f"server CPU {cpu_ms:5.1f} ms/req, errors {res['errors']:.0f}  [{verdict}]",
                    flush=True,
                )
                failed = failed or res["errors"] > 0
        print("load:", os.getloadavg())
    finally:
        server.terminate()
        server.wait(10)
    if failed:
        raise SystemExit("errors during the benchmark")


if __name__ == "__main__":
    main()
