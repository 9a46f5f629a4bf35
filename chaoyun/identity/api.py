"""JSON API of the identity context under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.i18n import N_, both
from chaoyun.identity import audit, service
from chaoyun.identity.models import ApiToken, Organisation, User
from chaoyun.identity.permissions import Actor, Permission
from chaoyun.identity.reference import INDUSTRIES
from chaoyun.identity.schemas import (
    AuditOut,
    EnterpriseOut,
    EnterpriseUpdate,
    InviteCreated,
    InviteIn,
    MembershipOut,
    OrgOut,
    OrgPage,
    ProviderOut,
    RegistrationIn,
    RejectIn,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserOut,
)
from chaoyun.web.deps import public, requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1", tags=["identity"])
P = Permission
REGISTRATION_RECEIVED = N_("Registration received. A district officer will review it.")


def org_out(org: Organisation) -> OrgOut:
    ent = None
    if org.enterprise is not None:
        e = org.enterprise
        ent = EnterpriseOut(
            industry_code=e.industry_code,
            industry_name=INDUSTRIES.get(e.industry_code, ("", None))[0],
            cluster=e.cluster,
            employees=e.employees,
            annual_revenue=e.annual_revenue,
            size_class=e.size_class,
            is_doubling=e.is_doubling,
            is_lead=e.is_lead,
        )
    prov = None
    if org.provider is not None:
        prov = ProviderOut(
            provider_type=org.provider.provider_type, service_categories=list(org.provider.service_categories or [])
        )
    return OrgOut(
        id=org.id,
        kind=org.kind,
        name=org.name,
        credit_code=org.credit_code,
        district=org.district,
        status=org.status,
        address=org.address,
        contact_name=org.contact_name,
        contact_phone=org.contact_phone,
        created_at=org.created_at,
        enterprise=ent,
        provider=prov,
    )


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        is_active=user.is_active,
        locale=user.locale,
        memberships=[
            MembershipOut(id=m.id, org_id=m.org_id, org_name=m.org.name, role=m.role, district=m.district)
            for m in user.memberships
        ],
    )


def token_out(t: ApiToken) -> TokenOut:
    return TokenOut(
        id=t.id,
        name=t.name,
        prefix=t.prefix,
        scopes=list(t.scopes or []),
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
        last_used_at=t.last_used_at,
    )


@router.get("/me", response_model=UserOut)
def me(actor: Actor = requires(P.AUTHENTICATED)) -> UserOut:
    return user_out(actor.user)


@router.get("/organisations", response_model=OrgPage)
def organisations(
    q: str = Query("", max_length=100),
    kind: str = Query("enterprise", max_length=16),
    district: str = Query("", max_length=16),
    cluster: str = Query("", max_length=32),
    industry_code: str = Query("", max_length=8),
    size_class: str = Query("", max_length=8),
    doubling: bool = False,
    lead: bool = False,
    status: str = Query("", max_length=16),
    page: int = Query(1, ge=1, le=100000),
    per_page: int = Query(20, ge=1, le=200),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.ORG_READ),
) -> OrgPage:
    f = service.DirectoryFilter(
        q=q,
        district=district,
        cluster=cluster,
        industry_code=industry_code,
        size_class=size_class,
        doubling=doubling,
        lead=lead,
        status=status,
        kind=kind,
    )
    rows, total = service.list_orgs(db, actor, f, page, per_page)
    return OrgPage(total=total, page=page, per_page=per_page, items=[org_out(o) for o in rows])


@router.get("/organisations/{org_id}", response_model=OrgOut)
def organisation(org_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_READ)) -> OrgOut:
    return org_out(service.get_org(db, actor, org_id))


@router.patch("/organisations/{org_id}", response_model=OrgOut)
def organisation_update(
    org_id: DbId, body: EnterpriseUpdate, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_WRITE)
) -> OrgOut:
    return org_out(service.update_enterprise(db, actor, org_id, body))


@router.post("/registrations", status_code=202)
def register(body: RegistrationIn, db: Session = Depends(get_db), actor: Actor | None = public()) -> dict[str, str]:
    """Accepted for review. The answer is the same whether or not the username was free, so this cannot be
    used to find out which usernames exist; the applicant hears the outcome from the review."""
    service.register_enterprise(db, body)
    m = both(REGISTRATION_RECEIVED)
    return {"status": "received", "message_zh": m["zh"], "message_en": m["en"]}


@router.post("/organisations/{org_id}/approve", response_model=OrgOut)
def approve(org_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_APPROVE)) -> OrgOut:
    return org_out(service.decide_registration(db, actor, org_id, True))


@router.post("/organisations/{org_id}/reject", response_model=OrgOut)
def reject(
    org_id: DbId, body: RejectIn, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_APPROVE)
) -> OrgOut:
    return org_out(service.decide_registration(db, actor, org_id, False, body.reason))


@router.get("/organisations/{org_id}/users", response_model=list[UserOut])
def org_users(org_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_READ)) -> list[UserOut]:
    return [user_out(u) for _, u in service.list_members(db, actor, org_id)]


@router.post("/organisations/{org_id}/invitations", response_model=InviteCreated, status_code=201)
def org_invite(
    org_id: DbId,
    body: InviteIn,
    request: Request,
    db: Session = Depends(get_db),
    actor: Actor = requires(P.USERS_MANAGE),
) -> InviteCreated:
    inv, raw = service.invite(db, actor, org_id, body.display_name, body.email, body.role)
    return InviteCreated(invitation_id=inv.id, accept_url=str(request.base_url).rstrip("/") + f"/invite/{raw}")


@router.get("/users/{user_id}", response_model=UserOut)
def user(user_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_READ)) -> UserOut:
    return user_out(service.get_user(db, actor, user_id))


@router.get("/tokens", response_model=list[TokenOut])
def tokens(db: Session = Depends(get_db), actor: Actor = requires(P.AUTHENTICATED)) -> list[TokenOut]:
    return [token_out(t) for t in service.list_tokens(db, actor)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def token_create(
    body: TokenIn, db: Session = Depends(get_db), actor: Actor = requires(P.AUTHENTICATED)
) -> TokenCreated:
    tok, raw = service.create_token(db, actor, body.name, body.scopes, body.expires_days)
    return TokenCreated(**token_out(tok).model_dump(), token=raw)


@router.delete("/tokens/{token_id}", status_code=204)
def token_revoke(token_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.AUTHENTICATED)) -> Response:
    service.revoke_token(db, actor, token_id)
    return Response(status_code=204)


@router.get("/audit", response_model=list[AuditOut])
def audit_entries(
    action: str | None = Query(None, max_length=40),
    object_type: str | None = Query(None, max_length=40),
    actor_name: str | None = Query(None, alias="actor", max_length=64),
    limit: int = Query(100, ge=1, le=1000),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.AUDIT_READ),
) -> list[AuditOut]:
    q = audit.query(action=action, object_type=object_type, actor=actor_name).limit(limit)
    return [
        AuditOut(
            id=e.id,
            ts=e.ts,
            actor_username=e.actor_username,
            actor_org_id=e.actor_org_id,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            before=e.before,
            after=e.after,
            hash=e.hash,
        )
        for e in db.execute(q).scalars()
    ]
