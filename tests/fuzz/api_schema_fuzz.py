"""Schemathesis over the whole OpenAPI document (run by tests/test_api_fuzz.py in its own process and database).

Not collected on its own (the name does not start with ``test_``): the fuzzing tokens write (delete devices,
reject registrations, rotate credentials ...) and must not change the demo data other tests in a worker rely on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from chaoyun.web.app import create_app
from tests.conftest import UserClient
from tests.fuzz.checks import call_and_check

MAX_EXAMPLES = int(os.environ.get("CHAOYUN_FUZZ_EXAMPLES", "15"))
SEED = 20181018  # fixed: the same cases every run (汕府办〔2018〕82号)
ACTORS = ("city", "factory")  # a city officer and an enterprise admin, each with a read+write API token

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        # Valid and invalid inputs; the coverage phase adds boundary values (huge integers, empty strings, nulls).
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
        # Stateful sequences would multiply the run time; each operation is fuzzed on its own.
        "phases": {"stateful": {"enabled": False}},
    }
)

# Loaded at import (one pytest item per operation; schemathesis' lazy fixture loader does not run under pytest 9).
# The OpenAPI document needs no database.
APP = create_app()
schema = schemathesis.openapi.from_asgi("/api/openapi.json", APP, config=CONFIG)


CALLS: dict[str, int] = {}  # requests per operation, printed at the end (the size of the run)


@pytest.fixture(scope="module")
def tokens() -> Iterator[dict[str, tuple[int, str]]]:
    out = {}
    for username in ACTORS:
        r = UserClient(APP, username).post("/api/v1/tokens", json={"name": "fuzz", "scopes": ["read", "write"]})
        assert r.status_code == 201, r.text
        out[username] = (r.json()["id"], r.json()["token"])
    yield out
    print(f"\nAPI fuzz size: {sum(CALLS.values())} requests over {len(CALLS)} operations")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_operation(case: Any, tokens: dict[str, tuple[int, str]]) -> None:
    if (case.path_parameters or {}).get("token_id") in {tid for tid, _ in tokens.values()}:
        # Revoking the fuzzer's own token would turn the rest of the run into 401s (not skipped: another id).
        case.path_parameters["token_id"] = 2**31 - 1
    for username in ACTORS:
        call_and_check(case, {"Authorization": f"Bearer {tokens[username][1]}"})
        key = case.operation.label
        CALLS[key] = CALLS.get(key, 0) + 1
