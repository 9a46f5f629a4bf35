"""Samples for the trace context's routes (tests/test_route_security.py).

The resolution routes ``GET /api/v1/trace/handles/{handle}`` and ``GET /t/{handle}`` are anonymous by design
(``public()``): anyone who scans a label may resolve it. They show public attributes only; non-public ones answer
403 to anyone the owner has not authorised (tests/trace/test_api.py::test_public_resolution_routes_are_declared).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import get_sessionmaker
from chaoyun.identity.models import Organisation
from chaoyun.trace import service
from chaoyun.trace.models import Grant, Identifier, Template
from tests.route_samples.production import prod_lot_id

PUBLIC_ROUTES = {("GET", "/api/v1/trace/handles/{handle:path}"), ("GET", "/t/{handle:path}")}


def _identifier(db: Session, owner: Organisation) -> Identifier:
    i = db.execute(select(Identifier).where(Identifier.org_id == owner.id).order_by(Identifier.id)).scalars().first()
    if i is None:
        p = service.prefix_of(db, owner.id) or service.allocate(db, owner.id)
        t = db.execute(select(Template).where(Template.org_id == owner.id, Template.code == "META_model")).scalar_one()
        row = service._new_row(
            owner.id, f"{p.prefix}/RS{owner.id}", t, {"model_code": "RS", "product_name": "样例"}, "rs", None
        )
        i = Identifier(**row)
        db.add(i)
        db.commit()
    return i


def identifier_id(db: Session, owner: Organisation) -> str:
    return str(_identifier(db, owner).id)


def handle(db: Session, owner: Organisation) -> str:
    return _identifier(db, owner).handle


def trace_grant_id(db: Session, owner: Organisation) -> str:
    g = db.execute(select(Grant).where(Grant.org_id == owner.id).order_by(Grant.id)).scalars().first()
    if g is None:
        other = (
            db.execute(
                select(Organisation)
                .where(Organisation.kind == "enterprise", Organisation.id != owner.id)
                .order_by(Organisation.id)
            )
            .scalars()
            .first()
        )
        assert other is not None
        g = Grant(org_id=owner.id, grantee_org_id=other.id)
        db.add(g)
        db.commit()
    return str(g.id)


PATH_PARAMS = {
    "identifier_id": identifier_id,
    "handle": handle,
    "trace_grant_id": trace_grant_id,
    "prod_lot_id": prod_lot_id,
}


def _lot_number(o: Organisation) -> str:
    from chaoyun.production.models import Lot

    with get_sessionmaker()() as db:
        lot = db.get(Lot, int(prod_lot_id(db, o)))
        assert lot is not None
        return lot.number


def _credit_code(o: Organisation) -> str:
    with get_sessionmaker()() as db:
        other = (
            db.execute(
                select(Organisation)
                .where(
                    Organisation.kind == "enterprise", Organisation.id != o.id, Organisation.credit_code.is_not(None)
                )
                .order_by(Organisation.id)
            )
            .scalars()
            .first()
        )
        return other.credit_code if other is not None and other.credit_code else "91440500MA00000000"


def _template(o: Organisation) -> dict[str, Any]:
    return {
        "code": f"META_rs{datetime.now(UTC).strftime('%H%M%S%f')}",
        "name": "样例模板",
        "object_class": "batch",
        "items": [{"code": "a", "dtype": "text", "public": True}],
    }


BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/trace/templates"): _template,
    ("POST", "/api/v1/trace/identifiers"): lambda o: {
        "template": "META_model",
        "attrs": {"model_code": "RS", "product_name": "样例"},
    },
    ("POST", "/api/v1/trace/identifiers/bulk"): lambda o: {
        "rows": [{"template": "META_model", "attrs": {"model_code": "RS", "product_name": "样例"}}]
    },
    ("PATCH", "/api/v1/trace/identifiers/{identifier_id}"): lambda o: {"attrs": {"standard": "GB 6675"}},
    ("POST", "/api/v1/trace/grants"): lambda o: {"credit_code": _credit_code(o)},
    ("POST", "/api/v1/trace/deliveries"): lambda o: {
        "lot_number": _lot_number(o),
        "customer_name": "Export Buyer",
        "quantity": 1,
        "delivered_at": datetime.now(UTC).isoformat(),
    },
    ("POST", "/api/v1/trace/links"): lambda o: {"from_lot": _lot_number(o), "into_lot": _lot_number(o)},
    ("POST", "/trace/identifiers"): lambda o: {
        "template": "META_model",
        "attr_model_code": "RS",
        "attr_product_name": "样例",
    },
    ("POST", "/trace/deliveries"): lambda o: {
        "lot_number": _lot_number(o),
        "customer_name": "Export Buyer",
        "quantity": "1",
        "delivered_at": "2026-11-30T10:00",
    },
    ("POST", "/trace/grants"): lambda o: {"credit_code": _credit_code(o)},
    ("POST", "/trace/links"): lambda o: {"from_lot": _lot_number(o), "into_lot": _lot_number(o)},
}
