"""Browser test: one voucher from claim to reimbursement across four users, against a live server.

factory (enterprise) claims and redeems, provider confirms the contract, chenghai (district office)
passes the district review, city passes the city review, concludes the public notice and pays the batch.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.programme.workflow_models import Voucher
from tests.conftest import demo_password
from tests.programme_workflows.helpers import PDF, eligible_provider, make_round

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's /usr/bin/chromium is not installed"),
]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(app: Any) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


# The browser comes from tests/conftest.py: one Playwright (sync) instance per process, since two
# cannot run side by side in one thread.


def _login(browser: Any, base: str, username: str) -> Any:
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(username))
    page.click("#login-btn")
    page.wait_for_url(f"{base}/home")
    return page


def test_one_voucher_from_claim_to_reimbursement(server: str, browser: Any, db: Session) -> None:
    provider = eligible_provider(db)
    rnd = make_round(db, budget="500000", ratio="0.5", cap="50000")
    base = server

    # 1. The enterprise claims a voucher against its contract with the provider.
    factory = _login(browser, base, "factory")
    factory.goto(f"{base}/programme/vouchers")
    factory.click(f"#claim-{rnd.id}")
    factory.select_option("#provider_org_id", str(provider.id))
    factory.fill("#contract_no", "HT-BROWSER-001")
    factory.fill("#contract_signed_on", "2019-06-01")
    factory.fill("#contract_amount", "30000")
    factory.fill("#established_on", "2008-03-01")
    factory.select_option("#cat0", "cloud_resources")
    factory.fill("#amt0", "24000")
    factory.select_option("#cat1", "automation_equipment")
    factory.fill("#amt1", "6000")
    factory.click("#save-claim")
    factory.wait_for_selector("#face-value")
    assert "12,000.00" in factory.inner_text("#face-value")  # 50 % of the eligible 24,000
    assert "自动化" in factory.content()
    voucher_url = factory.url.split("?")[0]
    voucher_id = int(voucher_url.rsplit("/", 1)[1])
    factory.click("#act-submit")
    factory.wait_for_selector("[data-state=submitted]")

    # 2. The provider confirms the contract: the voucher is issued and the money reserved.
    prov = _login(browser, base, "provider")
    prov.goto(voucher_url)
    prov.click("#act-confirm_contract")
    prov.wait_for_selector("[data-state=issued]")

    # 3. The enterprise redeems with invoice, payment proof and acceptance report (paid 95 %).
    factory.goto(voucher_url)
    factory.fill("#actual_paid", "28500")
    factory.fill("#invoice_no", "FP-BROWSER-001")
    for field in ("invoice", "payment_proof", "acceptance_report"):
        factory.set_input_files(f"#{field}", {"name": f"{field}.pdf", "mimeType": "application/pdf", "buffer": PDF})
    factory.click("#redeem-submit")
    factory.wait_for_selector("[data-state=district_review]")
    assert "11,400.00" in factory.inner_text("#reimbursable")  # 50 % × 28,500 × 24/30

    # 4. The district office passes it; 5. the city passes it into public notice.
    district = _login(browser, base, "chenghai")
    district.goto(voucher_url)
    district.click("#act-district_pass")
    district.wait_for_selector("[data-state=city_review]")
    city = _login(browser, base, "city")
    city.goto(voucher_url)
    city.click("#act-city_pass")
    city.wait_for_selector("[data-state=public_notice]")
    anon = browser.new_context().new_page()
    anon.goto(f"{base}/programme/notices")
    assert "11,400.00" in anon.content()

    # The notice period passes (five days in the round); then the city concludes it and pays the batch.
    db.execute(update(Voucher).where(Voucher.id == voucher_id).values(notice_ends_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    city.goto(f"{base}/gov/programme/voucher-rounds/{rnd.id}")
    city.click("#conclude-notices")
    city.wait_for_selector("[data-state=approved]")
    city.fill("#batch-reference", "BOF-2019-001")
    city.click("#pay-batch")
    city.wait_for_selector("[data-state=paid]")
    assert "11,400.00" in city.inner_text("#paid-total")

    factory.goto(voucher_url)
    factory.wait_for_selector("[data-state=paid]")
    assert "BOF-2019-001" in factory.inner_text("#history")
    db.expire_all()
    v = db.execute(select(Voucher).where(Voucher.id == voucher_id)).scalar_one()
    assert v.state == "paid" and str(v.reimbursable) == "11400.00"
