"""The Content-Security-Policy seen by Chromium: key pages run their scripts (charts drawn, confirmations asked)
and the browser reports no violation (console messages and securitypolicyviolation events)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.conftest import demo_password
from tests.devices.helpers import make_device, org_of

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(
    e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber));
"""


@pytest.fixture()
def watched(page: Any) -> Any:
    problems: list[str] = []
    page.context.add_init_script(WATCH)  # init scripts are the browser's own: the CSP does not apply to them
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.problems = problems
    return page


def _visit(page: Any, url: str) -> None:
    resp = page.goto(url)
    assert resp is not None and resp.status == 200, (url, resp and resp.status)
    assert "'nonce-" in resp.headers["content-security-policy"]
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # deferred scripts, charts, htmx polling start
    events = page.evaluate("window.__csp || []")
    assert not events and not page.problems, f"{url}: CSP violations {events} {page.problems}"


def _sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(username))
    page.click("#login-btn")
    page.wait_for_url("**/home")


def test_government_pages_without_csp_violations(watched: Any) -> None:
    _visit(watched, "/login")
    _sign_in(watched, "city")
    _visit(watched, "/home")
    assert watched.locator("#chart-district canvas").count() >= 1  # the nonce'd inline chart script ran
    for url in ("/gov/devices", "/gov/apps", "/programme/targets", "/programme/effect", "/market/prices"):
        _visit(watched, url)
    _visit(watched, "/api/docs")
    watched.wait_for_selector(".swagger-ui .opblock", timeout=30_000)  # Swagger UI's inline start-up ran
    assert not watched.evaluate("window.__csp") and not watched.problems
    # The watch itself works: an injected inline script (no nonce) is refused and reported.
    _visit(watched, "/home")
    ran = watched.evaluate(
        "() => { window.__ran = false; const s = document.createElement('script');"
        " s.textContent = 'window.__ran = true'; document.body.appendChild(s); return window.__ran; }"
    )
    watched.wait_for_timeout(200)
    assert ran is False
    assert any("script-src" in v for v in watched.evaluate("window.__csp")), watched.evaluate("window.__csp")
    assert any("Content Security Policy" in p for p in watched.problems)


def test_enterprise_pages_without_csp_violations(watched: Any, db: Session) -> None:
    device, _token = make_device(db, org_of(db, "factory"))
    _sign_in(watched, "factory")
    _visit(watched, "/home")
    for url in ("/alarms", "/workshop", "/apps/oee?days=1", "/apps/quality", "/apps/energy?days=1"):
        _visit(watched, url)
    _visit(watched, f"/devices/{device.id}")
    assert watched.locator("#chart-live canvas").count() >= 1
    # data-confirm (formerly an inline onsubmit): dismissing the question keeps the page and the credentials.
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    watched.once("dialog", dismiss)
    watched.locator(
        "form[action$='/credentials'] button[type=submit], form[action$='/credentials'] button"
    ).first.click()
    watched.wait_for_timeout(300)
    assert asked and watched.url.endswith(f"/devices/{device.id}")
    assert not watched.evaluate("window.__csp") and not watched.problems
