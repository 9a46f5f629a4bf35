"""The route-table security checks, run over the programme context's own routes only (so they can be
read here even while other contexts' routes change)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoyun.identity.permissions import WRITE_PERMISSIONS, Permission
from tests.test_route_security import UNSAFE, _audit_count, api_routes, call, fill, org_of, permission_of

PATHS = ("/programme/", "/api/v1/programme/", "/public/programme")
MINE = ("targets", "adoptions", "diagnoses", "evaluation", "pack", "public/programme")


def _mine(app: Any) -> list[tuple[str, Any]]:
    out = []
    for m, r in api_routes(app):
        if r.path.startswith(PATHS) and any(f"/{p}" in r.path for p in MINE):
            out.append((m, r))
    return out


def test_each_route_declares_one_fitting_permission(app: Any) -> None:
    routes = _mine(app)
    assert len(routes) >= 25
    for m, r in routes:
        perms = permission_of(r)
        assert len(perms) == 1, r.path
        if m in UNSAFE:
            assert perms[0] in WRITE_PERMISSIONS, f"{m} {r.path}"


def test_foreign_objects_answer_404(app: Any, db: Session, login: Any) -> None:
    checks = 0
    for username, foreign_user in (("factory", "factory2"), ("chenghai", None)):
        client = login(username)
        if foreign_user:
            foreign = org_of(db, foreign_user)
        else:
            from sqlalchemy import select

            from chaoyun.identity.models import Organisation

            foreign = (
                db.execute(
                    select(Organisation).where(Organisation.kind == "enterprise", Organisation.district == "chaonan")
                )
                .scalars()
                .first()
            )
        for m, r in _mine(app):
            if "{" not in r.path or permission_of(r)[0] == Permission.PUBLIC:
                continue
            resp = call(client, m, r, fill(db, r.path, foreign), foreign)
            assert resp.status_code in (403, 404), f"{username} {m} {r.path}: {resp.status_code}"
            assert foreign.credit_code not in resp.text
            checks += 1
    assert checks > 20


def test_evaluator_reads_everything_and_changes_nothing(app: Any, db: Session, login: Any) -> None:
    ev = login("evaluator")
    target = org_of(db, "factory")
    before = _audit_count(db)
    for m, r in _mine(app):
        resp = call(ev, m, r, fill(db, r.path, target), target)
        if m in UNSAFE:
            assert resp.status_code == 403, f"{m} {r.path}"
        elif "{" in r.path or r.path.endswith(("targets", "evaluation", "pack")):
            assert resp.status_code in (200, 404), f"{m} {r.path}: {resp.status_code}"
    assert _audit_count(db) == before
