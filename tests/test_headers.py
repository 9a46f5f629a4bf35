"""Security headers: a nonce-based Content-Security-Policy, framing refused, HSTS behind HTTPS; templates keep
every inline script under the nonce and carry no inline event handlers (the browser check is
tests/browser/test_csp.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chaoyun.web.app import create_app

PACKAGE = Path(__file__).resolve().parent.parent / "chaoyun"
NONCE_RE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]+)'")


def _csp(r: Any) -> dict[str, str]:
    out = {}
    for part in r.headers["content-security-policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def test_pages_and_api_answers_carry_the_headers(app: Any) -> None:
    client = TestClient(app)
    for url in ("/login", "/api/v1/me", "/static/app/app.js", "/no-such-page"):
        r = client.get(url)
        csp = _csp(r)
        assert csp["frame-ancestors"] == "'none'", url
        assert csp["object-src"] == "'none'" and csp["base-uri"] == "'self'", url
        assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"], url
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in r.headers  # plain HTTP, COOKIE_SECURE unset


def test_each_page_gets_its_own_nonce_on_its_inline_scripts(login: Any) -> None:
    client = login("city")
    seen = set()
    for _ in range(2):
        r = client.get("/home")
        assert r.status_code == 200
        nonce = NONCE_RE.search(r.headers["content-security-policy"]).group(1)  # type: ignore[union-attr]
        seen.add(nonce)
        scripts = re.findall(r"<script\b[^>]*>", r.text)
        inline = [s for s in scripts if "src=" not in s]
        assert inline, "the government home has its district chart inline"
        assert all(f'nonce="{nonce}"' in s for s in inline), inline
        assert f'"inlineScriptNonce": "{nonce}"' in r.text  # htmx-swapped fragments run under it too
    assert len(seen) == 2


def test_swagger_ui_runs_under_the_nonce(app: Any) -> None:
    r = TestClient(app).get("/api/docs")
    nonce = NONCE_RE.search(r.headers["content-security-policy"]).group(1)  # type: ignore[union-attr]
    inline = [s for s in re.findall(r"<script\b[^>]*>", r.text) if "src=" not in s]
    assert inline and all(f'nonce="{nonce}"' in s for s in inline)


def test_hsts_behind_https(monkeypatch: Any) -> None:
    over_https = TestClient(create_app(), base_url="https://testserver")
    assert over_https.get("/login").headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    # A proxy terminating TLS: COOKIE_SECURE=1 says so; HSTS_SECONDS sets the age, 0 turns it off.
    from chaoyun.settings import get_settings

    monkeypatch.setenv("CHAOYUN_COOKIE_SECURE", "1")
    monkeypatch.setenv("CHAOYUN_HSTS_SECONDS", "600")
    get_settings.cache_clear()
    try:
        behind_proxy = TestClient(create_app())
        assert behind_proxy.get("/login").headers["strict-transport-security"].startswith("max-age=600;")
        monkeypatch.setenv("CHAOYUN_HSTS_SECONDS", "0")
        assert "strict-transport-security" not in TestClient(create_app()).get("/login").headers
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def _templates() -> list[Path]:
    return sorted(PACKAGE.glob("**/templates/**/*.html"))


INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*\bnonce=\"\{\{ csp_nonce \}\}\")(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>"
)
HANDLER = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.S)
EVAL_ATTR = re.compile(r"hx-on[:-]|hx-vars=|hx-vals=[\"']js:|hx-trigger=\"[^\"]*\[")


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_templates_keep_scripts_under_the_csp(template: Path) -> None:
    """An inline <script> must carry nonce="{{ csp_nonce }}" (better: move it into a static .js file); no
    on*= handlers or htmx attributes that need eval (app.js has data-confirm, data-check-all,
    data-pause-while-checked for the usual cases)."""
    text = template.read_text(encoding="utf-8")
    assert not INLINE_SCRIPT.findall(text), "inline <script> without the CSP nonce"
    assert not HANDLER.findall(text), "inline event handler (on...=): the CSP blocks it"
    assert not EVAL_ATTR.findall(text), "htmx attribute that needs eval: the CSP blocks it"
