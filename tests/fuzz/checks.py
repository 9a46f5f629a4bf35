"""What every fuzzed API answer must satisfy (shared by the fuzz run and its self-check)."""

from __future__ import annotations

from typing import Any

from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance

CHECKS = [not_a_server_error, content_type_conformance]


def error_shape(response: Any) -> None:
    """A refusal (4xx) in JSON is the project's bilingual error shape (the telemetry ingest has its own, with a
    bilingual reason per rejected point)."""
    if not 400 <= response.status_code < 500:
        return
    if not response.headers.get("content-type", [""])[0].startswith("application/json"):
        return
    body = response.json()
    if isinstance(body, dict) and "rejected" in body:
        assert all(r.get("message_zh") and r.get("message_en") for r in body["rejected"]), body
        return
    err = body.get("error") if isinstance(body, dict) else None
    assert isinstance(err, dict) and err.get("code") and err.get("message_zh") and err.get("message_en"), (
        f"{response.status_code} without the bilingual error shape: {body!r}"
    )


def call_and_check(case: Any, headers: dict[str, str]) -> Any:
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS)
    error_shape(response)
    return response
