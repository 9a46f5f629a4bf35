"""Alarm page in Chromium: ticking alarms and acknowledging them at once; the rule form shows the fields
of the chosen kind and only the chosen device model's metrics."""

from typing import Any

from sqlalchemy.orm import Session

from chaoyun.devices.models import Alarm
from tests.conftest import demo_password
from tests.devices.helpers import make_device, org_of


def test_tick_and_acknowledge_then_rule_form_fields(page: Any, db: Session) -> None:
    dev, _ = make_device(db, org_of(db, "factory"), name="浏览器告警设备")
    ids = []
    for _i in range(2):
        a = Alarm(org_id=dev.org_id, device_id=dev.id, kind="threshold", severity="critical", message="浏览器测试")
        db.add(a)
        db.commit()
        ids.append(a.id)
    page.goto("/login")
    page.fill("#username", "factory")
    page.fill("#password", demo_password("factory"))
    page.click("#login-btn")
    page.wait_for_url("**/home")
    page.goto("/alarms?status=active&q=浏览器测试")
    for i in ids:
        page.check(f'input[name="ids"][value="{i}"]')
    page.click("#ack-selected")
    page.wait_for_url("**/alarms?msg=acked_many*")
    db.expire_all()
    assert all(db.get(Alarm, i).status == "acknowledged" for i in ids)  # type: ignore[union-attr]

    # Rule form: the threshold fields show, the offline field hides; switching kind swaps them.
    assert page.locator("#rule-value").is_visible() and not page.locator("#rule-seconds").is_visible()
    page.select_option("#rule-kind", "offline")
    assert page.locator("#rule-seconds").is_visible() and not page.locator("#rule-value").is_visible()
    assert not page.locator("#rule-metric").is_visible()
    page.select_option("#rule-kind", "threshold")
    page.select_option("#rule-target", f"device:{dev.id}")
    models = page.eval_on_selector_all(
        "#rule-metric option:not([disabled])", "els => [...new Set(els.map(e => e.dataset.model))]"
    )
    assert models == ["injection_moulding"]
    page.fill("#rule-name", "浏览器规则")
    page.select_option("#rule-metric", "barrel_temp")
    page.fill("#rule-value", "240")
    page.fill("#rule-duration", "-10")
    page.click("#save-rule")
    page.wait_for_selector('[data-field="duration_s"]')
    assert page.input_value("#rule-duration") == "-10" and page.input_value("#rule-name") == "浏览器规则"
