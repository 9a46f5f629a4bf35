"""/api/docs loads Swagger UI from the pinned npm package under /static/vendor, from no other host."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_api_docs_reference_no_external_host(login: Any) -> None:
    anon = login(None)
    r = anon.get("/api/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    # Every script, stylesheet, icon and fetch is same-origin (it loaded from cdn.jsdelivr.net before).
    refs = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", r.text)
    assert refs and all(u.startswith("/") and not u.startswith("//") for u in refs), refs
    assert "http://" not in r.text and "https://" not in r.text
    for u in refs:
        if u.startswith("/static/"):
            assert anon.get(u).status_code == 200, u
    assert anon.get("/api/openapi.json").status_code == 200


def test_swagger_ui_is_pinned_in_package_lock() -> None:
    pkg = json.loads((ROOT / "package.json").read_text())
    version = pkg["dependencies"]["swagger-ui-dist"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version  # exact, not a range
    lock = json.loads((ROOT / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/swagger-ui-dist"]
    assert entry["version"] == version and entry["integrity"].startswith("sha512-")


def test_api_docs_render_in_chromium_from_this_server_only(page: Any, live_server: str) -> None:
    hosts: list[str] = []
    page.on("request", lambda req: hosts.append(req.url))
    page.goto("/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=45_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    foreign = [u for u in hosts if not u.startswith(live_server) and not u.startswith("data:")]
    assert not foreign, foreign
