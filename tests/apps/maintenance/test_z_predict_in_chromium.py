"""Machine health in Chromium: a monitored machine whose vibration and oil temperature drift (fed through the
real ingest, scored by the real rules); the list shows it as an anomaly; its page draws the anomaly-score chart
with the threshold line and the RUL chart with its band, and names the deviating signals; the registry lists the
model versions. Screenshots go to /tmp/predict_*.png."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Membership, User
from tests.apps.maintenance.test_predict_pages import _monitored
from tests.browser.test_shell import _sign_in


def test_health_pages_draw_charts(page: Any, db: Session) -> None:
    q = select(Membership).join(User, Membership.user_id == User.id).where(User.username == "factory")
    org_id = db.execute(q).scalar_one().org_id
    d = _monitored(db, org_id, "浏览器健康注塑机")
    _sign_in(page, "factory")
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto("/apps/maintenance/health")
    row = page.locator("#health-list tr", has_text="浏览器健康注塑机")
    assert "异常" in row.inner_text()
    page.screenshot(path="/tmp/predict_list.png", full_page=True)
    page.goto(f"/apps/maintenance/health/{d.id}")
    page.wait_for_selector("#chart-score canvas")
    page.wait_for_selector("#chart-rul canvas")
    page.wait_for_timeout(800)  # let the charts' animation finish before the screenshot
    assert page.locator("#health-status").inner_text() == "异常"
    assert "σ" in page.locator("#deviating").inner_text()
    assert "小时" in page.locator("#rul").inner_text()
    # ECharts drew the score series with its threshold line and the RUL band.
    n_series = page.evaluate(
        "() => [echarts.getInstanceByDom(document.getElementById('chart-score')).getOption().series.length,"
        " echarts.getInstanceByDom(document.getElementById('chart-rul')).getOption().series.length]"
    )
    assert n_series == [1, 4]
    page.screenshot(path="/tmp/predict_machine.png", full_page=True)
    page.goto("/apps/maintenance/models")
    assert page.locator("#model-list tbody tr").count() >= 2
    page.screenshot(path="/tmp/predict_models.png", full_page=True)
