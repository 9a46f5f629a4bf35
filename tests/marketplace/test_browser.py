"""The resource pool through a real browser: a provider applies, a city officer admits it, an
expert whitelists it after a security assessment, and an enterprise finds its offering by a
Chinese search."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.marketplace.models import Admission, Offering
from chaoyun.marketplace.reference import CHECKLIST
from tests.conftest import demo_password
from tests.marketplace.conftest import PDF, application


def _sign_in(browser: Any, live_server: str, username: str, password: str | None = None) -> Any:
    ctx = browser.new_context(base_url=live_server, locale="zh-CN", viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(15000)
    p = ctx.new_page()
    p.goto("/login")
    p.fill("#username", username)
    p.fill("#password", password or demo_password(username))
    p.click("#login-btn")
    p.wait_for_url("**/home")
    return p


def test_apply_admit_whitelist_find(page: Any, browser: Any, live_server: str, db: Session, tmp_path: Any) -> None:
    data = application()
    product = f"绣花机云端花样管理{secrets.token_hex(2)}"

    # 1. A new provider applies on the public form, with its licence as a PDF.
    page.goto("/market/apply")
    assert "申请加入汕头市工业互联网产业生态供给资源池" in page.content()
    for field in (
        "name",
        "credit_code",
        "registered_place",
        "username",
        "display_name",
        "password",
        "qualifications",
        "integration_report",
    ):
        page.fill(f"#apply-form [name={field}]", data[field])
    page.select_option("#apply-form [name=provider_type]", "service")
    page.check("#apply-form input[name=categories][value=iiot]")
    page.check("#apply-form input[name=saas_domains][value=production_control]")
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(PDF)
    page.set_input_files("#apply-form input[name=attachments]", str(pdf))
    page.click("#apply-submit")
    page.wait_for_url(re.compile(r".*/market/apply\?msg=applied$"))
    assert "申请已提交" in page.content()
    adm = db.execute(select(Admission).order_by(Admission.id.desc())).scalars().first()
    assert adm is not None and adm.status == "applied"

    # 2. The city officer reviews and admits it.
    city = _sign_in(browser, live_server, "city")
    city.goto("/gov/market")
    city.click(f"#queue a:has-text('{data['name']}')")
    city.wait_for_url(f"**/gov/market/applications/{adm.id}")
    assert "licence.pdf" in city.content()
    city.click("#admit-btn")
    city.wait_for_url(re.compile(r".*msg=admitted$"))
    assert city.locator("#admission-status").get_attribute("data-status") == "admitted"
    city.context.close()

    # 3. The admitted provider lists an offering.
    prov = _sign_in(browser, live_server, data["username"], data["password"])
    prov.goto("/provider/offerings/new")
    prov.fill("#offering-form [name=name]", product)
    prov.select_option("#offering-form [name=category]", "iiot")
    prov.fill("#offering-form [name=summary]", "刺绣机花样文件云端下发与版本管理")
    prov.check("#offering-form input[name=industries][value=textiles_apparel]")
    prov.check("#offering-form input[name=deployment][value=public_cloud]")
    prov.fill("#offering-form [name=case_0_customer]", "潮南某绣花厂")
    prov.fill("#offering-form [name=case_0_metric]", "换款时间")
    prov.fill("#offering-form [name=case_0_before]", "45")
    prov.fill("#offering-form [name=case_0_after]", "10")
    prov.fill("#offering-form [name=case_0_unit]", "分钟")
    prov.click("#offering-save")
    prov.wait_for_url(re.compile(r".*/provider/offerings\?msg=saved$"))
    assert product in prov.content()
    prov.context.close()

    # 4. An expert assesses its security against the checklist and whitelists it.
    expert = _sign_in(browser, live_server, "expert")
    expert.goto(f"/gov/market/applications/{adm.id}")
    expert.click("#open-assessment")
    expert.wait_for_url("**/gov/market/assessments/*")
    for item in CHECKLIST:
        expert.fill(f"input[name='score_{item.code}']", str(item.weight))
    expert.click("#conclude-btn")
    expert.wait_for_url(re.compile(r".*msg=concluded$"))
    assert expert.locator("#assessment-status").get_attribute("data-status") == "passed"
    expert.context.close()

    # 5. An enterprise finds the offering by a Chinese search and sees the provider whitelisted.
    ent = _sign_in(browser, live_server, "factory")
    ent.goto("/market")
    ent.fill("#q", "花样管理")
    ent.click("#search-btn")
    ent.wait_for_url(re.compile(r".*/market\?q=.*"))
    card = ent.locator(".offering-card", has_text=product)
    assert card.count() == 1
    assert card.locator("[data-whitelist]").get_attribute("data-whitelist") == "whitelisted"
    card.locator(f"a:has-text('{product}')").click()
    ent.wait_for_url("**/market/offerings/*")
    assert "可使用服务券的服务商" in ent.content() and "换款时间" in ent.content()
    off = db.execute(select(Offering).where(Offering.name == product)).scalar_one()
    assert off.org_id == adm.org_id
    ent.context.close()
