"""tests/test_route_security.py's checks, on the production routes only (so they run, and fail, on their own)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import WRITE_PERMISSIONS, Permission, role_permissions
from chaoyun.identity.reference import Role
from tests.test_route_security import PARAM_RE, UNSAFE, _audit_count, api_routes, call, fill, org_of, permission_of


def _routes(app: Any) -> list[tuple[str, Any]]:
    out = [(m, r) for m, r in api_routes(app) if "production" in r.path]
    assert len(out) > 40
    return out


def test_each_production_route_declares_one_fitting_permission(app: Any) -> None:
    for method, route in _routes(app):
        perms = permission_of(route)
        assert len(perms) == 1, f"{method} {route.path}"
        if method in UNSAFE:
            assert perms[0] in WRITE_PERMISSIONS, f"{method} {route.path}"


def test_anonymous(app: Any, db: Session, login: Any) -> None:
    anon = login(None)
    owner = org_of(db, "factory")
    for method, route in _routes(app):
        r = call(anon, method, route, fill(db, route.path, owner), owner)
        if route.path.startswith("/api/"):
            assert r.status_code == 401, f"{method} {route.path}"
        else:
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), f"{method} {route.path}"


def _foreign(app: Any, db: Session, client: Any, role: Role, foreign: Organisation, own: Organisation) -> int:
    checked = 0
    assert foreign.credit_code
    for method, route in _routes(app):
        perm = permission_of(route)[0]
        if not PARAM_RE.search(route.path):
            if method == "GET":
                r = client.get(route.path + f"?q={foreign.name}")
                assert foreign.credit_code not in r.text, f"GET {route.path} leaks {foreign.name}"
                checked += 1
            continue
        r = call(client, method, route, fill(db, route.path, foreign), foreign)
        assert r.status_code in (403, 404), f"{method} {route.path} on a foreign object: {r.status_code}"
        checked += 1
        if method == "GET":
            ok = call(client, method, route, fill(db, route.path, own), own)
            if perm in role_permissions(role):
                assert ok.status_code == 200, f"GET {route.path} refuses the user's own record: {ok.status_code}"
    return checked


def test_enterprises_see_only_their_own(app: Any, db: Session, login: Any) -> None:
    for username, role in (("factory", Role.ENTERPRISE_ADMIN), ("operator", Role.ENTERPRISE_MEMBER)):
        client = login(username)
        assert _foreign(app, db, client, role, org_of(db, "factory2"), org_of(db, username)) > 20


def test_district_officer_reads_no_enterprise_records(app: Any, db: Session, login: Any) -> None:
    client = login("chenghai")
    foreign = (
        db.execute(select(Organisation).where(Organisation.kind == "enterprise", Organisation.district == "chaonan"))
        .scalars()
        .first()
    )
    assert foreign is not None
    assert _foreign(app, db, client, Role.DISTRICT_OFFICER, foreign, org_of(db, "factory")) > 20
    # Not even the records of an enterprise in the officer's own district.
    own_district = org_of(db, "factory")
    for method, route in _routes(app):
        if method == "GET" and PARAM_RE.search(route.path):
            r = call(client, method, route, fill(db, route.path, own_district), own_district)
            assert r.status_code == 403, f"GET {route.path}: {r.status_code}"
    assert client.get("/gov/production").status_code == 200


def test_evaluator_and_read_only_token_change_nothing(app: Any, db: Session, login: Any) -> None:
    client = login("evaluator")
    target = org_of(db, "factory")
    before = _audit_count(db)
    for method, route in _routes(app):
        if method in UNSAFE:
            r = call(client, method, route, fill(db, route.path, target), target)
            assert r.status_code == 403, f"evaluator {method} {route.path}: {r.status_code}"
    assert _audit_count(db) == before
    admin = login("factory")
    r = admin.post("/api/v1/tokens", json={"name": "ro-production", "scopes": ["read"]})
    assert r.status_code == 201, r.text
    api = TestClient(app, headers={"Authorization": f"Bearer {r.json()['token']}"})
    api.csrf = ""  # type: ignore[attr-defined]
    checked = 0
    for method, route in _routes(app):
        if route.path.startswith("/api/") and method in UNSAFE:
            resp = call(api, method, route, fill(db, route.path, target), target)
            assert resp.status_code == 403, f"read-only token {method} {route.path}: {resp.status_code}"
            checked += 1
    assert checked >= 10
    assert api.get("/api/v1/production/work-orders").status_code == 200
    assert Permission.PUBLIC not in {permission_of(r)[0] for _m, r in _routes(app)}
