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


def _stale(page: Any, url: str) -> Any:
    """The same page open in a second tab, left as it is: clicking there after the first tab acted is a
    second click on the same button."""
    tab = page.context.new_page()
    tab.goto(url)
    return tab


def _refused(tab: Any, selector: str) -> str:
    """Click ``selector`` in a stale tab: the answer is a clear refusal in Chinese, never a bare 500."""
    tab.click(selector)
    tab.wait_for_selector("#error, #form-error, .border-danger")
    html = str(tab.content())
    assert "Internal Server Error" not in html
    tab.close()
    return html


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
    again = _stale(factory, voucher_url)
    factory.click("#act-submit")
    factory.wait_for_selector("[data-state=submitted]")
    _refused(again, "#act-submit")

    # 2. The provider confirms the contract: the voucher is issued and the money reserved.
    prov = _login(browser, base, "provider")
    prov.goto(voucher_url)
    again = _stale(prov, voucher_url)
    prov.click("#act-confirm_contract")
    prov.wait_for_selector("[data-state=issued]")
    _refused(again, "#act-confirm_contract")

    # 3. The enterprise redeems with invoice, payment proof and acceptance report (paid 95 %).
    factory.goto(voucher_url)
    again = _stale(factory, voucher_url)
    # First with a wrong amount: the page comes back with the error beside the field, the files kept.
    factory.fill("#actual_paid", "-1")
    factory.fill("#invoice_no", "FP-BROWSER-001")
    for field in ("invoice", "payment_proof", "acceptance_report"):
        factory.set_input_files(f"#{field}", {"name": f"{field}.pdf", "mimeType": "application/pdf", "buffer": PDF})
    factory.click("#redeem-submit")
    factory.wait_for_selector("[data-field=actual_paid]")
    assert factory.input_value("#invoice_no") == "FP-BROWSER-001"
    assert "已上传：invoice.pdf" in factory.content()
    factory.fill("#actual_paid", "28500")
    factory.click("#redeem-submit")  # no file chosen again: the staged ones are used
    factory.wait_for_selector("[data-state=district_review]")
    again.fill("#actual_paid", "28500")
    again.fill("#invoice_no", "FP-BROWSER-001")
    _refused(again, "#redeem-submit")
    assert "11,400.00" in factory.inner_text("#reimbursable")  # 50 % × 28,500 × 24/30

    # 4. The district office passes it; 5. the city passes it into public notice.
    district = _login(browser, base, "chenghai")
    district.goto(voucher_url)
    again = _stale(district, voucher_url)
    district.click("#act-district_pass")
    district.wait_for_selector("[data-state=city_review]")
    _refused(again, "#act-district_pass")
    city = _login(browser, base, "city")
    city.goto(voucher_url)
    again = _stale(city, voucher_url)
    city.click("#act-city_pass")
    city.wait_for_selector("[data-state=public_notice]")
    _refused(again, "#act-city_pass")
    anon = browser.new_context().new_page()
    anon.goto(f"{base}/programme/notices")
    assert "11,400.00" in anon.content()

    # The notice period passes (five days in the round); then the city concludes it and pays the batch.
    db.execute(update(Voucher).where(Voucher.id == voucher_id).values(notice_ends_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    city.goto(f"{base}/gov/programme/voucher-rounds/{rnd.id}")
    city.click("#conclude-notices")
    city.wait_for_selector("[data-state=approved]")
    round_url = f"{base}/gov/programme/voucher-rounds/{rnd.id}"
    again = _stale(city, round_url)
    city.fill("#batch-reference", "BOF-2019-001")
    city.click("#pay-batch")
    city.wait_for_selector("[data-state=paid]")
    again.fill("#batch-reference", "BOF-2019-001")
    _refused(again, "#pay-batch")
    assert "11,400.00" in city.inner_text("#paid-total")

    factory.goto(voucher_url)
    factory.wait_for_selector("[data-state=paid]")
    assert "BOF-2019-001" in factory.inner_text("#history")
    db.expire_all()
    v = db.execute(select(Voucher).where(Voucher.id == voucher_id)).scalar_one()
    assert v.state == "paid" and str(v.reimbursable) == "11400.00"


def test_one_innovation_subsidy_from_application_to_payment(server: str, browser: Any, db: Session) -> None:
    """The subsidy journey in Chromium, with a second click on every state-changing button."""
    from chaoyun.programme.workflow_models import SubsidyApplication

    base = server
    factory = _login(browser, base, "factory")
    factory.goto(f"{base}/programme/subsidies/new?kind=innovation")
    assert "一次性补贴" in factory.inner_text("#subsidy-rules")
    factory.select_option("#cat0", "cloud_computing")
    factory.fill("#amt0", "200000")
    factory.fill("#date0", "2019-08-01")
    factory.set_input_files("#cost_evidence", {"name": "cost.pdf", "mimeType": "application/pdf", "buffer": PDF})
    factory.click("#save-application")  # no title: refused, everything kept
    factory.wait_for_selector("[data-field=title]")
    assert factory.input_value("#amt0") == "200000" and "已上传：cost.pdf" in factory.content()
    factory.fill("#title", "浏览器测试：上云改造")
    factory.click("#save-application")
    factory.wait_for_selector("#computed")
    assert "60,000.00" in factory.inner_text("#computed")  # 30 % of 200,000
    url = factory.url.split("?")[0]
    again = _stale(factory, url)
    factory.click("#act-submit")
    factory.wait_for_selector("[data-state=submitted]")
    _refused(again, "#act-submit")

    district = _login(browser, base, "chenghai")
    for action, state in (("accept", "district_review"), ("district_pass", "city_review")):
        district.goto(url)
        again = _stale(district, url)
        district.click(f"#act-{action}")
        district.wait_for_selector(f"[data-state={state}]")
        _refused(again, f"#act-{action}")

    expert = _login(browser, base, "expert")
    expert.goto(url)
    again = _stale(expert, url)
    for key, value in (("technology", "35"), ("benefit", "25"), ("costs", "25")):
        expert.fill(f"#score-{key}", value)
        again.fill(f"#score-{key}", value)
    expert.click("#score-form button")
    expert.wait_for_selector("#my-score")
    assert expert.locator("#score-form").count() == 0  # the form is replaced by the submitted score
    assert "已为该申报评分" in _refused(again, "#score-form button")

    city = _login(browser, base, "city")
    city.goto(url)
    again = _stale(city, url)
    city.click("#act-city_pass")
    city.wait_for_selector("[data-state=public_notice]")
    _refused(again, "#act-city_pass")
    app_id = int(url.rsplit("/", 1)[1])
    db.execute(
        update(SubsidyApplication)
        .where(SubsidyApplication.id == app_id)
        .values(notice_ends_at=utcnow() - timedelta(seconds=1))
    )
    db.commit()
    city.goto(url)
    city.click("#act-conclude_notice")
    city.wait_for_selector("[data-state=approved]")
    again = _stale(city, url)
    city.fill("#reference", "CZ-BROWSER-1")
    city.click("#act-pay")
    city.wait_for_selector("[data-state=paid]")
    again.fill("#reference", "CZ-BROWSER-1")
    _refused(again, "#act-pay")
    # A second application by the now-paid enterprise is refused by the one-time rule, on the form itself.
    factory.goto(f"{base}/programme/subsidies/new?kind=innovation")
    assert factory.locator("#one-time").count() == 1
