"""The whole API fuzzed with schemathesis: no operation may answer a server error (5xx), whatever the input.

``tests/fuzz/api_schema_fuzz.py`` runs every operation of ``/api/openapi.json`` in-process (ASGI) as a city officer
and as an enterprise admin (read+write API tokens), derandomized with a fixed seed and ``CHAOYUN_FUZZ_EXAMPLES``
examples per operation (default 15) in the examples, coverage and fuzzing phases. It runs in a child pytest
process: with its own database, so what the write tokens change (devices deleted, registrations rejected,
credentials rotated) cannot reach the demo data other tests of this worker use.

Checks: not a server error, the documented content type, and 4xx answers in the bilingual error shape. Status
codes are not checked against the document (routes do not list every 401/403/404/409/422 they may answer).
No operation is excluded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from tests.fuzz.checks import call_and_check

ROOT = Path(__file__).resolve().parent.parent


def test_no_api_operation_answers_a_server_error() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-n", "0", "-W", "ignore::UserWarning"]
    started = time.monotonic()
    r = subprocess.run(
        [*cmd, "tests/fuzz/api_schema_fuzz.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        # ~280 operations × 2 actors × CHAOYUN_FUZZ_EXAMPLES: a loaded 2-core machine needs more than 15 minutes.
        timeout=int(os.environ.get("CHAOYUN_FUZZ_TIMEOUT", "2400")),
    )
    took = time.monotonic() - started
    size = next((line for line in r.stdout.splitlines() if line.startswith("API fuzz size")), "")
    print(f"API fuzz: {took:.0f} s; {size}")
    assert r.returncode == 0, f"API fuzz found failures ({took:.0f} s):\n{r.stdout[-30000:]}\n{r.stderr[-3000:]}"


def test_every_api_route_is_in_the_fuzzed_document() -> None:
    """The run fuzzes what /api/openapi.json lists, built from every context's routers at start-up: a new context's
    API is fuzzed without any change here, unless a route hides from the document (include_in_schema=False)."""
    from chaoyun.web.app import create_app, flat_routes

    app = create_app()
    listed = {(m.upper(), p) for p, item in app.openapi()["paths"].items() for m in item}
    hidden = []
    for route in flat_routes(list(app.routes)):
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", getattr(route, "path", ""))  # {handle:path} is {handle} there
        if not path.startswith("/api/") or path in ("/api/openapi.json", "/api/docs"):
            continue
        hidden += [(m, path) for m in sorted(getattr(route, "methods", None) or ()) if m not in ("HEAD", "OPTIONS")]
    hidden = [h for h in hidden if h not in listed]
    assert not hidden, f"API routes the fuzz run cannot see (include_in_schema=False?): {hidden}"
    assert len(listed) > 200


def test_the_fuzz_check_fails_on_a_server_error() -> None:
    """The checks the run applies catch a route that answers 500 (here: one that fails for every even number)."""
    app = FastAPI()

    @app.get("/api/v1/ratio/{n}")
    def ratio(n: int) -> dict[str, Any]:
        return {"ratio": 1 / (n % 2)}  # even n: ZeroDivisionError, a 500

    config = SchemathesisConfig.from_dict({"generation": {"mode": "positive", "deterministic": True}})
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    strategy = schema["/api/v1/ratio/{n}"]["GET"].as_strategy()

    @given(case=strategy)
    @settings(max_examples=50, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        call_and_check(case, {})

    with pytest.raises(Exception) as info:  # schemathesis' failure group, or the app's own error
        run()
    assert "ZeroDivisionError" in repr(info.value) or "Server error" in str(info.value)
