"""Walks the application's whole route table and proves, for every route, who may do what.

- every route declares exactly one permission (a new undeclared route fails here);
- anonymous requests get 401 (API) or a redirect to the login page;
- an enterprise user cannot read or change another enterprise's records;
- a district officer sees only their district;
- an evaluator, and a read-only API token, change nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.identity.models import AuditEntry, Membership, Organisation, User
from chaoyun.identity.permissions import WRITE_PERMISSIONS, Permission
from chaoyun.web.app import flat_routes
from chaoyun.web.deps import Requires
from tests.route_samples import BODIES, PATH_PARAMS

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# FastAPI's own documentation routes: public by design, not APIRoutes.
DOC_PATHS = {"/api/docs", "/api/openapi.json", "/api/docs/oauth2-redirect"}
PARAM_RE = re.compile(r"{([a-zA-Z_]+)(?::[a-z]+)?}")


def permission_of(route: APIRoute) -> list[str]:
    found: list[str] = []

    def walk(dep: Any) -> None:
        if isinstance(dep.call, Requires):
            found.append(dep.call.perm)
        for sub in dep.dependencies:
            walk(sub)

    walk(route.dependant)
    return found


def api_routes(app: Any) -> list[tuple[str, APIRoute]]:
    out = []
    for r in flat_routes(app.routes):
        if isinstance(r, APIRoute):
            for m in sorted(r.methods - {"HEAD"}):
                out.append((m, r))
    return out


def org_of(db: Session, username: str) -> Organisation:
    user = db.execute(select(User).where(User.username == username)).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    org = db.get(Organisation, m.org_id)
    assert org is not None
    return org


def fill(db: Session, path: str, owner: Organisation) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PATH_PARAMS:
            pytest.fail(f"route {path}: no sample for path parameter '{name}' in tests/route_samples/")
        return PATH_PARAMS[name](db, owner)

    return PARAM_RE.sub(sub, path)


def call(client: Any, method: str, route: APIRoute, url: str, owner: Organisation, query: str = "") -> Any:
    body = BODIES.get((method, route.path), lambda o: {})(owner)
    full = url + query
    if method == "GET":
        return client.get(full)
    if route.path.startswith("/api/"):
        return client.request(method, full, json=body)
    return client.request(method, full, data={**body, "csrf_token": client.csrf})


def test_every_route_declares_one_permission(app: Any) -> None:
    problems = []
    for method, route in api_routes(app):
        perms = permission_of(route)
        if len(perms) != 1:
            problems.append(f"{method} {route.path}: {perms or 'no permission declared'}")
        elif method in UNSAFE and perms[0] not in WRITE_PERMISSIONS | {Permission.PUBLIC, Permission.AUTHENTICATED}:
            problems.append(f"{method} {route.path}: changes state but is guarded by read permission {perms[0]}")
    assert not problems, "\n".join(problems)
    other = [getattr(r, "path", "") for r in flat_routes(app.routes) if not isinstance(r, APIRoute)]
    unexpected = [p for p in other if p not in DOC_PATHS and not p.startswith("/static/")]
    assert not unexpected, f"routes outside the permission mechanism: {unexpected}"


def test_anonymous_gets_401_or_login(app: Any, db: Session, login: Any) -> None:
    anon = login(None)
    owner = org_of(db, "factory")
    checked = 0
    for method, route in api_routes(app):
        if permission_of(route) == [Permission.PUBLIC]:
            continue
        r = call(anon, method, route, fill(db, route.path, owner), owner)
        if route.path.startswith("/api/"):
            assert r.status_code == 401, f"{method} {route.path}: {r.status_code}"
            assert r.json()["error"]["message_zh"] and r.json()["error"]["message_en"]
        else:
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), f"{method} {route.path}"
        checked += 1
    assert checked > 20


def _foreign_checks(app: Any, db: Session, client: Any, foreign: Organisation, own: Organisation) -> int:
    checked = 0
    assert foreign.credit_code
    for method, route in api_routes(app):
        perm = permission_of(route)[0]
        if perm == Permission.PUBLIC:
            continue
        has_params = bool(PARAM_RE.search(route.path))
        if not has_params:
            if method == "GET":
                # Lists: even when searched for by name, the foreign organisation must not show up.
                r = client.get(route.path + f"?q={foreign.name}&per_page=200")
                assert foreign.credit_code not in r.text, f"GET {route.path} leaks {foreign.name}"
                checked += 1
            continue
        r = call(client, method, route, fill(db, route.path, foreign), foreign)
        assert r.status_code in (403, 404), f"{method} {route.path} on a foreign object: {r.status_code}"
        assert foreign.credit_code not in r.text
        checked += 1
        if method == "GET":
            # Positive control: the same route on one's own records is not refused for scope reasons.
            ok = call(client, method, route, fill(db, route.path, own), own)
            if ok.status_code in (403, 404):
                assert perm not in _role_perms(client), f"GET {route.path} refuses the user's own record"
    return checked


def _role_perms(client: Any) -> frozenset[str]:
    from chaoyun.identity.permissions import role_permissions
    from chaoyun.identity.reference import Role

    return role_permissions(Role(client.role))


def test_enterprise_cannot_reach_another_enterprise(app: Any, db: Session, login: Any) -> None:
    for username in ("factory", "operator"):
        client = login(username)
        client.role = "enterprise_admin" if username == "factory" else "enterprise_member"
        own = org_of(db, username)
        foreign = org_of(db, "factory2")
        assert own.id != foreign.id
        assert _foreign_checks(app, db, client, foreign, own) > 15


def test_provider_cannot_reach_an_enterprise(app: Any, db: Session, login: Any) -> None:
    client = login("provider")
    client.role = "provider_admin"
    assert _foreign_checks(app, db, client, org_of(db, "factory"), org_of(db, "provider")) > 15


def test_district_officer_sees_only_their_district(app: Any, db: Session, login: Any) -> None:
    client = login("chenghai")
    client.role = "district_officer"
    foreign = (
        db.execute(select(Organisation).where(Organisation.kind == "enterprise", Organisation.district == "chaonan"))
        .scalars()
        .first()
    )
    assert foreign is not None
    own = org_of(db, "factory")  # a Chenghai enterprise: in scope
    assert own.district == "chenghai"
    assert _foreign_checks(app, db, client, foreign, own) > 15


def _audit_count(db: Session) -> int:
    db.expire_all()
    return int(db.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


def test_evaluator_changes_nothing(app: Any, db: Session, login: Any) -> None:
    client = login("evaluator")
    target = org_of(db, "factory")
    before = _audit_count(db)
    checked = 0
    for method, route in api_routes(app):
        perm = permission_of(route)[0]
        if method not in UNSAFE or perm in (Permission.PUBLIC, Permission.AUTHENTICATED):
            continue
        r = call(client, method, route, fill(db, route.path, target), target)
        assert r.status_code == 403, f"evaluator {method} {route.path}: {r.status_code}"
        checked += 1
    assert checked > 5
    assert _audit_count(db) == before, "an evaluator's requests changed something"


def test_read_only_token_changes_nothing(app: Any, db: Session, login: Any) -> None:
    admin = login("admin")
    r = admin.post("/api/v1/tokens", json={"name": "ro", "scopes": ["read"]})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    from fastapi.testclient import TestClient

    api = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    api.csrf = ""  # type: ignore[attr-defined]
    target = org_of(db, "factory")
    checked = 0
    for method, route in api_routes(app):
        perm = permission_of(route)[0]
        # Every state-changing route, also those open to any signed-in user (tokens, settings, password).
        if not route.path.startswith("/api/") or method not in UNSAFE or perm == Permission.PUBLIC:
            continue
        resp = call(api, method, route, fill(db, route.path, target), target)
        assert resp.status_code == 403, f"read-only token {method} {route.path}: {resp.status_code}"
        checked += 1
    assert checked >= 3
    # The routes open to any signed-in user are among them (a read token revoked tokens before).
    mine = admin.get("/api/v1/tokens").json()
    ro = next(t for t in (mine["items"] if isinstance(mine, dict) else mine) if t["name"] == "ro")
    assert api.delete(f"/api/v1/tokens/{ro['id']}").status_code == 403
    assert api.post("/api/v1/tokens", json={"name": "escalate", "scopes": ["read", "write"]}).status_code == 403
    assert api.get(f"/api/v1/organisations/{target.id}").status_code == 200
