"""The route-table security checks of tests/test_route_security.py, restricted to the marketplace's
routes (so this context's permissions are proven even while other contexts' samples are missing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoyun.identity.permissions import WRITE_PERMISSIONS, Permission, role_permissions
from chaoyun.identity.reference import Role
from tests.test_route_security import PARAM_RE, UNSAFE, _audit_count, api_routes, call, fill, org_of, permission_of

PREFIXES = ("/market", "/provider/", "/gov/market", "/gov/provincial", "/api/v1/market")


def ours(app: Any) -> list[tuple[str, Any]]:
    return [(m, r) for m, r in api_routes(app) if r.path.startswith(PREFIXES)]


def test_every_marketplace_route_declares_one_permission(app: Any) -> None:
    routes = ours(app)
    assert len(routes) > 30
    for method, route in routes:
        perms = permission_of(route)
        assert len(perms) == 1, f"{method} {route.path}: {perms}"
        if method in UNSAFE:
            assert perms[0] in WRITE_PERMISSIONS | {Permission.PUBLIC}, f"{method} {route.path}: {perms}"


def test_anonymous(app: Any, db: Session, login: Any) -> None:
    anon = login(None)
    owner = org_of(db, "factory")
    for method, route in ours(app):
        if permission_of(route) == [Permission.PUBLIC]:
            continue
        r = call(anon, method, route, fill(db, route.path, owner), owner)
        if route.path.startswith("/api/"):
            assert r.status_code == 401, f"{method} {route.path}"
        else:
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), f"{method} {route.path}"


def _foreign(app: Any, db: Session, client: Any, role: Role, foreign: Any, own: Any) -> int:
    checked = 0
    for method, route in ours(app):
        perm = permission_of(route)[0]
        if perm == Permission.PUBLIC:
            continue
        if not PARAM_RE.search(route.path):
            if method == "GET":
                r = client.get(route.path + f"?q={foreign.name}&per_page=200")
                assert foreign.credit_code not in r.text, f"GET {route.path} leaks {foreign.name}"
                checked += 1
            continue
        r = call(client, method, route, fill(db, route.path, foreign), foreign)
        assert r.status_code in (403, 404), f"{method} {route.path} on a foreign object: {r.status_code}"
        assert foreign.credit_code not in r.text
        checked += 1
        if method == "GET":
            ok = call(client, method, route, fill(db, route.path, own), own)
            if ok.status_code in (403, 404):
                assert perm not in role_permissions(role), f"GET {route.path} refuses the user's own record"
    return checked


def test_enterprise_cannot_reach_others(app: Any, db: Session, login: Any) -> None:
    for username, role in (("factory", Role.ENTERPRISE_ADMIN), ("operator", Role.ENTERPRISE_MEMBER)):
        client = login(username)
        assert _foreign(app, db, client, role, org_of(db, "factory2"), org_of(db, username)) > 10


def test_provider_cannot_reach_an_enterprise_or_another_provider(app: Any, db: Session, login: Any) -> None:
    client = login("provider")
    own = org_of(db, "provider")
    assert _foreign(app, db, client, Role.PROVIDER_ADMIN, org_of(db, "factory"), own) > 10
    from tests.route_samples.marketplace import _sample_provider

    other = _sample_provider(db)
    assert _foreign(app, db, client, Role.PROVIDER_ADMIN, other, own) > 10


def test_district_officer_has_no_pool_powers(app: Any, db: Session, login: Any) -> None:
    client = login("chenghai")
    from sqlalchemy import select

    from chaoyun.identity.models import Organisation

    foreign = (
        db.execute(select(Organisation).where(Organisation.kind == "enterprise", Organisation.district == "chaonan"))
        .scalars()
        .first()
    )
    assert _foreign(app, db, client, Role.DISTRICT_OFFICER, foreign, org_of(db, "factory")) > 10


def test_evaluator_changes_nothing(app: Any, db: Session, login: Any) -> None:
    client = login("evaluator")
    target = org_of(db, "provider")
    before = _audit_count(db)
    n = 0
    for method, route in ours(app):
        perm = permission_of(route)[0]
        if method not in UNSAFE or perm in (Permission.PUBLIC, Permission.AUTHENTICATED):
            continue
        r = call(client, method, route, fill(db, route.path, target), target)
        assert r.status_code == 403, f"evaluator {method} {route.path}: {r.status_code}"
        n += 1
    assert n > 15
    assert _audit_count(db) == before


def test_evaluator_reads_government_pages(app: Any, db: Session, login: Any) -> None:
    client = login("evaluator")
    target = org_of(db, "provider")
    for method, route in ours(app):
        if method == "GET" and route.path.startswith(("/gov/market", "/gov/provincial")):
            r = call(client, method, route, fill(db, route.path, target), target)
            assert r.status_code == 200, f"{route.path}: {r.status_code}"
