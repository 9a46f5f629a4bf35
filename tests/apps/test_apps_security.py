"""The route-table security checks of tests/test_route_security.py, run over the apps' routes alone (so this
context's permissions are proven even while other contexts' samples are in flux)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

import tests.test_route_security as rs

PREFIXES = ("/apps/", "/api/v1/apps/", "/gov/apps")


@pytest.fixture(autouse=True)
def _only_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    everything = rs.api_routes
    monkeypatch.setattr(
        rs, "api_routes", lambda app: [(m, r) for m, r in everything(app) if r.path.startswith(PREFIXES)]
    )


def test_declarations(app: Any) -> None:
    rs.test_every_route_declares_one_permission(app)


def test_anonymous(app: Any, db: Session, login: Any) -> None:
    rs.test_anonymous_gets_401_or_login(app, db, login)


def test_other_enterprise(app: Any, db: Session, login: Any) -> None:
    rs.test_enterprise_cannot_reach_another_enterprise(app, db, login)


def test_provider(app: Any, db: Session, login: Any) -> None:
    rs.test_provider_cannot_reach_an_enterprise(app, db, login)


def test_district_officer(app: Any, db: Session, login: Any) -> None:
    rs.test_district_officer_sees_only_their_district(app, db, login)


def test_evaluator(app: Any, db: Session, login: Any) -> None:
    rs.test_evaluator_changes_nothing(app, db, login)


def test_read_only_token(app: Any, db: Session, login: Any) -> None:
    rs.test_read_only_token_changes_nothing(app, db, login)
