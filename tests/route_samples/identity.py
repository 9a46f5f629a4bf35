from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.crypto import token_hash
from chaoyun.identity.models import ApiToken, Invitation, Membership, Organisation, User
from tests import factories


def _member(db: Session, owner: Organisation) -> Membership:
    m = db.execute(select(Membership).where(Membership.org_id == owner.id).order_by(Membership.id)).scalars().first()
    if m is None:
        role = {"enterprise": "enterprise_admin", "provider": "provider_admin"}.get(owner.kind, "city_officer")
        user = User(username=f"member_{owner.id}_{secrets.token_hex(3)}", display_name="成员")
        db.add(user)
        db.flush()
        m = Membership(user_id=user.id, org_id=owner.id, role=role)
        db.add(m)
        db.commit()
    return m


def org_id(db: Session, owner: Organisation) -> str:
    return str(owner.id)


def user_id(db: Session, owner: Organisation) -> str:
    return str(_member(db, owner).user_id)


def token_id(db: Session, owner: Organisation) -> str:
    m = _member(db, owner)
    tok = ApiToken(
        user_id=m.user_id,
        membership_id=m.id,
        name="route-test",
        prefix="cy_test",
        token_hash=token_hash(secrets.token_hex(16)),
        scopes=["read"],
    )
    db.add(tok)
    db.commit()
    return str(tok.id)


def invite_token(db: Session, owner: Organisation) -> str:
    # Invitation pages are public by design (the link is the credential); any live one will do.
    from datetime import timedelta

    from chaoyun.db import utcnow

    raw = secrets.token_urlsafe(16)
    m = _member(db, owner)
    db.add(
        Invitation(
            org_id=owner.id,
            role=m.role,
            display_name="x",
            token_hash=token_hash(raw),
            invited_by=m.user_id,
            expires_at=utcnow() + timedelta(days=1),
        )
    )
    db.commit()
    return raw


PATH_PARAMS = {"org_id": org_id, "user_id": user_id, "token_id": token_id, "token": invite_token}


def _enterprise_form(owner: Organisation) -> dict[str, Any]:
    e = owner.enterprise
    return {
        "name": owner.name,
        "district": owner.district or "chenghai",
        "industry_code": e.industry_code if e else "C2452",
        "employees": e.employees if e else 10,
        "annual_revenue": str(e.annual_revenue) if e else "100",
        "address": owner.address,
        "contact_name": "",
        "contact_phone": "",
    }


BODIES = {
    ("POST", "/orgs/{org_id}/edit"): _enterprise_form,
    ("PATCH", "/api/v1/organisations/{org_id}"): _enterprise_form,
    ("POST", "/orgs/{org_id}/people/invite"): lambda o: {
        "display_name": "新同事",
        "email": "",
        "role": "enterprise_member"
        if o.kind == "enterprise"
        else ("provider_member" if o.kind == "provider" else "expert"),
    },
    ("POST", "/api/v1/organisations/{org_id}/invitations"): lambda o: {
        "display_name": "新同事",
        "role": "enterprise_member" if o.kind == "enterprise" else "expert",
    },
    ("POST", "/gov/registrations/{org_id}/reject"): lambda o: {"reason": "测试"},
    ("POST", "/api/v1/organisations/{org_id}/reject"): lambda o: {"reason": "测试"},
    ("POST", "/api/v1/registrations"): lambda o: factories.registration(),
    ("POST", "/register"): lambda o: factories.registration(),
    ("POST", "/api/v1/tokens"): lambda o: {"name": "t", "scopes": ["read"]},
    ("POST", "/account/tokens"): lambda o: {"name": "t"},
    ("POST", "/lang"): lambda o: {"lang": "en", "back": "/home"},
    ("POST", "/account/password"): lambda o: {"old_password": "x", "new_password": "yyyyyyyyyy"},
    ("POST", "/account/membership"): lambda o: {"membership_id": "1"},
    ("POST", "/login"): lambda o: {"username": "nobody", "password": "x"},
    ("POST", "/invite/{token}"): lambda o: {"username": "u", "password": "x"},
}
