"""Rules of the identity context: organisations, registration, people, login, sessions, tokens.

Functions take a session and the acting ``Actor``; each commits its own change together with the
audit entry that describes it, so a failure leaves the database as it was.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from chaoyun.i18n import N_
from chaoyun.identity import audit, passwords
from chaoyun.identity.credit_code import credit_code_error
from chaoyun.identity.crypto import hash_password, new_token, token_hash, verify_password
from chaoyun.identity.models import (
    ApiToken,
    EnterpriseProfile,
    Invitation,
    Membership,
    Organisation,
    User,
    WebSession,
)
from chaoyun.identity.permissions import (
    Actor,
    Permission,
    check_org_approve,
    check_org_read,
    check_org_write,
    check_users_manage,
    visible_orgs,
)
from chaoyun.identity.reference import (
    INDUSTRIES,
    ROLE_ORG_KIND,
    District,
    OrgKind,
    OrgStatus,
    Role,
    size_class,
)
from chaoyun.identity.schemas import EnterpriseFields, EnterpriseUpdate, RegistrationIn
from chaoyun.identity.throttle import TooManyAttempts, fail, locked_for, reset
from chaoyun.settings import env, get_settings

# ---------------------------------------------------------------- snapshots for the audit log


def org_snapshot(org: Organisation) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "name": org.name,
        "kind": org.kind,
        "credit_code": org.credit_code,
        "district": org.district,
        "status": org.status,
        "address": org.address,
        "contact_name": org.contact_name,
        "contact_phone": org.contact_phone,
    }
    if org.enterprise is not None:
        e = org.enterprise
        snap.update(
            industry_code=e.industry_code,
            cluster=e.cluster,
            employees=e.employees,
            annual_revenue=str(e.annual_revenue),
            size_class=e.size_class,
            is_doubling=e.is_doubling,
            is_lead=e.is_lead,
        )
    return snap


def _validate_enterprise(data: EnterpriseFields) -> None:
    if data.district not in {d.value for d in District}:
        raise Invalid(N_("Choose one of Shantou's seven districts."), field="district")
    if data.industry_code not in INDUSTRIES:
        raise Invalid(
            N_("Unknown industry code; use a GB/T 4754-2017 class such as C2452."),
            field="industry_code",
        )


def _apply_enterprise(org: Organisation, data: EnterpriseFields) -> None:
    org.name = data.name
    org.district = data.district
    org.address = data.address
    org.contact_name = data.contact_name
    org.contact_phone = data.contact_phone
    ent = org.enterprise
    assert ent is not None
    ent.industry_code = data.industry_code
    ent.cluster = INDUSTRIES[data.industry_code][1].value
    ent.employees = data.employees
    ent.annual_revenue = Decimal(data.annual_revenue)
    ent.size_class = size_class(data.employees, float(data.annual_revenue)).value


# ---------------------------------------------------------------- organisations


@dataclass
class DirectoryFilter:
    q: str = ""
    district: str = ""
    cluster: str = ""
    industry_code: str = ""
    size_class: str = ""
    doubling: bool = False
    lead: bool = False
    status: str = ""
    kind: str = OrgKind.ENTERPRISE.value


def _directory_where(actor: Actor, f: DirectoryFilter) -> tuple[list[ColumnElement[bool]], bool]:
    """The WHERE conditions of a directory filter, and whether they need the enterprise profile."""
    conds: list[ColumnElement[bool]] = [visible_orgs(actor)]
    if f.kind:
        conds.append(Organisation.kind == f.kind)
    if f.cluster:
        conds.append(EnterpriseProfile.cluster == f.cluster)
    if f.industry_code:
        conds.append(EnterpriseProfile.industry_code == f.industry_code)
    if f.size_class:
        conds.append(EnterpriseProfile.size_class == f.size_class)
    if f.doubling:
        conds.append(EnterpriseProfile.is_doubling.is_(True))
    if f.lead:
        conds.append(EnterpriseProfile.is_lead.is_(True))
    if f.district:
        conds.append(Organisation.district == f.district)
    if f.status:
        conds.append(Organisation.status == f.status)
    if f.q.strip():
        like = f"%{f.q.strip()}%"
        conds.append(or_(Organisation.name.like(like), Organisation.credit_code.like(like.upper())))
    needs_profile = any([f.cluster, f.industry_code, f.size_class, f.doubling, f.lead])
    return conds, needs_profile


def directory_query(actor: Actor, f: DirectoryFilter) -> Select[Organisation]:
    conds, needs_profile = _directory_where(actor, f)
    q = select(Organisation)
    if needs_profile:
        q = q.join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
    return q.where(*conds)


def list_orgs(
    db: Session, actor: Actor, f: DirectoryFilter, page: int = 1, per_page: int = 20
) -> tuple[list[Organisation], int]:
    page = max(page, 1)
    per_page = min(max(per_page, 1), 200)
    conds, needs_profile = _directory_where(actor, f)
    count = select(func.count(Organisation.id))
    if needs_profile:
        count = count.join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
    total = db.execute(count.where(*conds)).scalar_one()
    # Page the ids first, then load just those rows with their profiles: cheap even on deep pages.
    ids_q = select(Organisation.id)
    if needs_profile:
        ids_q = ids_q.join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
    ids = list(
        db.execute(
            ids_q.where(*conds).order_by(Organisation.id).offset((page - 1) * per_page).limit(per_page)
        ).scalars()
    )
    if not ids:
        return [], int(total)
    rows = db.execute(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.id)).unique()
    return list(rows.scalars().all()), int(total)


@dataclass(frozen=True, slots=True)
class DirectoryRow:
    """One line of the directory page: plain values, no ORM objects (this is the page's hot path)."""

    id: int
    name: str
    credit_code: str | None
    district: str | None
    cluster: str | None
    size_class: str | None
    employees: int | None
    is_doubling: bool
    is_lead: bool


def directory_page(
    db: Session, actor: Actor, f: DirectoryFilter, page: int = 1, per_page: int = 25
) -> tuple[list[DirectoryRow], int]:
    """The directory page: a count, then the page's rows as plain values (no ORM objects)."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), 200)
    conds, needs_profile = _directory_where(actor, f)
    count = select(func.count(Organisation.id))
    if needs_profile:
        count = count.join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
    total = int(db.execute(count.where(*conds)).scalar_one())
    # Page over ids alone (no join unless a filter needs one), so deep pages stay cheap.
    ids = select(Organisation.id)
    if needs_profile:
        ids = ids.join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
    page_ids = list(
        db.execute(ids.where(*conds).order_by(Organisation.id).offset((page - 1) * per_page).limit(per_page)).scalars()
    )
    if not page_ids:
        return [], total
    q = (
        select(
            Organisation.id,
            Organisation.name,
            Organisation.credit_code,
            Organisation.district,
            EnterpriseProfile.cluster,
            EnterpriseProfile.size_class,
            EnterpriseProfile.employees,
            EnterpriseProfile.is_doubling,
            EnterpriseProfile.is_lead,
        )
        .outerjoin(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
        .where(Organisation.id.in_(page_ids))
        .order_by(Organisation.id)
    )
    rows = [DirectoryRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), bool(r[8])) for r in db.execute(q).all()]
    return rows, total


def get_org(db: Session, actor: Actor, org_id: int) -> Organisation:
    return check_org_read(actor, db.get(Organisation, org_id))


def update_enterprise(db: Session, actor: Actor, org_id: int, data: EnterpriseUpdate) -> Organisation:
    org = check_org_write(actor, db.get(Organisation, org_id))
    if org.enterprise is None:
        raise Invalid(N_("This organisation is not an enterprise."))
    _validate_enterprise(data)
    before = org_snapshot(org)
    if actor.role not in (Role.PLATFORM_ADMIN, Role.CITY_OFFICER) and data.district != org.district:
        # Moving district would move the firm out of its officer's oversight.
        raise Forbidden(N_("Only the city bureau can move an enterprise to another district."))
    _apply_enterprise(org, data)
    if data.is_doubling is not None or data.is_lead is not None:
        # The city designates doubling and lead enterprises; firms cannot flag themselves.
        if actor.role not in (Role.PLATFORM_ADMIN, Role.CITY_OFFICER):
            raise Forbidden(N_("Only the city bureau designates doubling and lead enterprises."))
        assert org.enterprise is not None
        if data.is_doubling is not None:
            org.enterprise.is_doubling = data.is_doubling
        if data.is_lead is not None:
            org.enterprise.is_lead = data.is_lead
    db.flush()
    audit.record_by(db, actor, "update", "organisation", org.id, before, org_snapshot(org))
    db.commit()
    return org


def register_enterprise(db: Session, data: RegistrationIn) -> tuple[Organisation, User] | None:
    """Self-registration: a pending enterprise and its first admin, awaiting district approval.

    None when the username is taken: the caller answers exactly as for a stored registration, so the
    form cannot be used to find out which usernames exist."""
    reason = credit_code_error(data.credit_code)
    if reason:
        raise Invalid(reason, field="credit_code")
    _validate_enterprise(data)
    if db.execute(select(Organisation.id).where(Organisation.credit_code == data.credit_code)).first():
        raise Conflict(N_("An organisation with this credit code is already registered."), field="credit_code")
    passwords.check(data.password, data.username, data.name)
    password_hash = hash_password(data.password)
    if db.execute(select(User.id).where(User.username == data.username)).first():
        # Not disclosed: the applicant sees the same "received, awaiting review" answer as any other
        # (after the same password hashing), nothing is created, and the attempt is on the audit log.
        audit.record(
            db,
            actor_user_id=None,
            actor_username="",
            actor_org_id=None,
            action="register_refused",
            object_type="organisation",
            object_id="",
            after={"reason": "username taken", "credit_code": data.credit_code},
        )
        db.commit()
        return None
    org = Organisation(
        kind=OrgKind.ENTERPRISE.value,
        credit_code=data.credit_code,
        status=OrgStatus.PENDING.value,
        name=data.name,
    )
    org.enterprise = EnterpriseProfile(industry_code="", cluster="", employees=0, annual_revenue=0, size_class="")
    _apply_enterprise(org, data)
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=password_hash,
    )
    db.add_all([org, user])
    db.flush()
    db.add(Membership(user_id=user.id, org_id=org.id, role=Role.ENTERPRISE_ADMIN.value))
    audit.record(
        db,
        actor_user_id=user.id,
        actor_username=user.username,
        actor_org_id=org.id,
        action="register",
        object_type="organisation",
        object_id=org.id,
        after=org_snapshot(org),
    )
    db.commit()
    return org, user


def decide_registration(db: Session, actor: Actor, org_id: int, approve: bool, reason: str = "") -> Organisation:
    org = check_org_approve(actor, db.get(Organisation, org_id))  # type: ignore[arg-type]
    if org.status != OrgStatus.PENDING.value:
        raise Conflict(N_("This registration has already been decided."))
    if not approve and not reason.strip():
        raise Invalid(N_("Give a reason for the rejection."), field="reason")
    before = org_snapshot(org)
    org.status = (OrgStatus.ACTIVE if approve else OrgStatus.REJECTED).value
    after = org_snapshot(org) | ({"reason": reason.strip()[:500]} if reason.strip() else {})
    audit.record_by(db, actor, "approve" if approve else "reject", "organisation", org.id, before, after)
    db.commit()
    return org


# ---------------------------------------------------------------- people


def search_users(
    db: Session, actor: Actor, q: str = "", page: int = 1, per_page: int = 50
) -> tuple[list[tuple[Membership, User]], int]:
    """People the actor may manage: everyone for a platform admin, otherwise their own organisation's."""
    query = select(Membership, User).join(User, User.id == Membership.user_id)
    if actor.role != Role.PLATFORM_ADMIN:
        query = query.where(Membership.org_id == actor.org_id)
    if q.strip():
        like = f"%{q.strip()}%"
        query = query.where(or_(User.username.like(like), User.display_name.like(like)))
    total = db.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.execute(query.order_by(User.id).offset((max(page, 1) - 1) * per_page).limit(per_page)).all()
    return [(m, u) for m, u in rows], int(total)


def list_members(db: Session, actor: Actor, org_id: int) -> list[tuple[Membership, User]]:
    org = get_org(db, actor, org_id)
    rows = db.execute(select(Membership, User).join(User).where(Membership.org_id == org.id).order_by(User.id)).all()
    return [(m, u) for m, u in rows]


def get_user(db: Session, actor: Actor, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(N_("No such user, or it is not yours to see."))
    if user.id == actor.user.id:
        return user
    for m in user.memberships:
        try:
            check_org_read(actor, m.org)
            return user
        except NotFound:
            continue
    raise NotFound(N_("No such user, or it is not yours to see."))


def invite(db: Session, actor: Actor, org_id: int, display_name: str, email: str, role: str) -> tuple[Invitation, str]:
    org = check_users_manage(actor, db.get(Organisation, org_id))
    try:
        r = Role(role)
    except ValueError:
        raise Invalid(N_("Unknown role."), field="role") from None
    if ROLE_ORG_KIND[r].value != org.kind:
        raise Invalid(N_("This role does not belong in this kind of organisation."), field="role")
    if r in (Role.PLATFORM_ADMIN,) and actor.role != Role.PLATFORM_ADMIN:
        raise Forbidden(N_("Only a platform admin can create another platform admin."))
    raw = new_token("inv")
    inv = Invitation(
        org_id=org.id,
        role=r.value,
        display_name=display_name,
        email=email,
        token_hash=token_hash(raw),
        invited_by=actor.user.id,
        expires_at=utcnow() + timedelta(days=7),
    )
    db.add(inv)
    db.flush()
    audit.record_by(
        db,
        actor,
        "invite",
        "invitation",
        inv.id,
        None,
        {"org_id": org.id, "role": r.value, "display_name": display_name, "email": email},
    )
    db.commit()
    return inv, raw


def find_invitation(db: Session, raw: str) -> Invitation:
    inv = db.execute(select(Invitation).where(Invitation.token_hash == token_hash(raw))).scalar_one_or_none()
    if inv is None or inv.accepted_at is not None or inv.expires_at < utcnow():
        raise NotFound(N_("This invitation is unknown, used or expired."))
    return inv


def accept_invitation(db: Session, raw: str, username: str, password: str) -> User:
    inv = find_invitation(db, raw)
    org_row = db.get(Organisation, inv.org_id)
    passwords.check(password, username, org_row.name if org_row else "")
    if db.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(N_("This username is taken; choose another."), field="username")
    user = User(
        username=username, display_name=inv.display_name, email=inv.email, password_hash=hash_password(password)
    )
    db.add(user)
    db.flush()
    district = None
    org = db.get(Organisation, inv.org_id)
    if inv.role == Role.DISTRICT_OFFICER.value and org is not None:
        district = org.district
    db.add(Membership(user_id=user.id, org_id=inv.org_id, role=inv.role, district=district))
    inv.accepted_at = utcnow()
    audit.record(
        db,
        actor_user_id=user.id,
        actor_username=user.username,
        actor_org_id=inv.org_id,
        action="create",
        object_type="user",
        object_id=user.id,
        after={"username": username, "role": inv.role, "invitation": inv.id},
    )
    db.commit()
    return user


def set_user_active(db: Session, actor: Actor, org_id: int, user_id: int, active: bool) -> User:
    check_users_manage(actor, db.get(Organisation, org_id))
    member = (
        db.execute(select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id))
        .scalars()
        .first()
    )
    if member is None:
        raise NotFound(N_("No such user, or it is not yours to see."))
    if user_id == actor.user.id:
        raise Invalid(N_("You cannot deactivate yourself."))
    user = member.user
    before = {"is_active": user.is_active}
    user.is_active = active
    if not active:
        # End their sessions and tokens at once (tokens stay revoked if the account is reactivated).
        end_other_sessions(db, user.id)
    audit.record_by(db, actor, "activate" if active else "deactivate", "user", user.id, before, {"is_active": active})
    db.commit()
    return user


# ---------------------------------------------------------------- login and sessions


LOGIN_FAILED = N_(
    "Wrong username or password. After %(n)s failed attempts sign-in to an account pauses for %(minutes)s minutes."
)
TOO_MANY_FROM_ADDRESS = N_("Too many failed sign-ins from your network; try again in %(minutes)s minutes.")


def authenticate(db: Session, username: str, password: str, client: str = "") -> User:
    """Check a sign-in. Unknown names, wrong passwords, inactive and locked accounts all get the same
    answer after the same work (an argon2 verify, a dummy hash for unknown names), and every name locks
    after the same number of failures, so nothing tells which accounts exist. ``client`` (the address)
    has a counter of its own: too many failures from one address answer 429."""
    s = get_settings()
    now = utcnow()
    name = username.strip()
    ukey, akey = "u:" + name.lower()[:64], "a:" + client
    addr_wait = locked_for(akey) if client else 0
    if addr_wait:
        raise TooManyAttempts(TOO_MANY_FROM_ADDRESS, addr_wait, minutes=max(1, (addr_wait + 59) // 60))
    user = db.execute(select(User).where(User.username == name)).scalar_one_or_none()
    ok = verify_password(user.password_hash if user is not None else "", password)
    locked = bool(locked_for(ukey)) or (user is not None and user.locked_until is not None and user.locked_until > now)
    if user is not None and ok and user.is_active and not locked:
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        reset(ukey)
        return user
    lock_s = s.login_lockout_minutes * 60
    reached = fail(ukey, s.login_max_failures, lock_s, lock_s)
    if client:
        fail(akey, int(env("LOGIN_ADDRESS_MAX_FAILURES")), int(env("LOGIN_ADDRESS_WINDOW_MINUTES")) * 60, lock_s)
    if user is None:
        reason = "unknown user"
    elif locked:
        reason = "locked"
    else:
        reason = "inactive" if not user.is_active else "wrong password"
        if reached:
            # Also in the database, so every worker refuses it and admins see it on the users page.
            user.locked_until = now + timedelta(minutes=s.login_lockout_minutes)
            reason += ", locked"
    audit.record(
        db,
        actor_user_id=user.id if user is not None else None,
        actor_username=name[:64],
        actor_org_id=None,
        action="login_failed",
        object_type="user",
        object_id=user.id if user is not None else "",
        after={"reason": reason, "client": client[:64]},
    )
    db.commit()
    raise Unauthorized(LOGIN_FAILED, n=s.login_max_failures, minutes=s.login_lockout_minutes)


def start_session(db: Session, user: User) -> str:
    """Create a session for an authenticated user; returns the raw cookie value."""
    if not user.memberships:
        raise Forbidden(N_("This account belongs to no organisation."))
    raw = secrets.token_urlsafe(32)
    ws = WebSession(
        id=token_hash(raw),
        user_id=user.id,
        membership_id=user.memberships[0].id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(hours=get_settings().session_hours),
    )
    db.add(ws)
    m = user.memberships[0]
    audit.record(
        db,
        actor_user_id=user.id,
        actor_username=user.username,
        actor_org_id=m.org_id,
        action="login",
        object_type="user",
        object_id=user.id,
    )
    db.commit()
    return raw


@dataclass
class SessionState:
    session: WebSession | None
    actor: Actor | None
    expired: bool = False


def resolve_session(db: Session, raw: str | None) -> SessionState:
    if not raw:
        return SessionState(None, None)
    # Session and user in one round trip: this runs on every request.
    row = db.execute(
        select(WebSession, User).join(User, User.id == WebSession.user_id).where(WebSession.id == token_hash(raw))
    ).first()
    if row is None:
        return SessionState(None, None, expired=True)
    ws, user = row
    if ws.expires_at < utcnow():
        db.delete(ws)
        db.commit()
        return SessionState(None, None, expired=True)
    if not user.is_active:
        return SessionState(None, None, expired=True)
    membership = next((m for m in user.memberships if m.id == ws.membership_id), None)
    if membership is None:
        if not user.memberships:
            return SessionState(None, None, expired=True)
        membership = user.memberships[0]
    return SessionState(ws, Actor(user=user, membership=membership))


def end_session(db: Session, raw: str | None) -> None:
    if not raw:
        return
    ws = db.get(WebSession, token_hash(raw))
    if ws is not None:
        db.delete(ws)
        db.commit()


def switch_membership(db: Session, ws: WebSession, actor: Actor, membership_id: int) -> None:
    if not any(m.id == membership_id for m in actor.user.memberships):
        raise NotFound(N_("No such membership."))
    ws.membership_id = membership_id
    db.commit()


def end_other_sessions(
    db: Session, user_id: int, keep_session: str | None = None, keep_token: int | None = None
) -> tuple[int, int]:
    """Delete the user's web sessions and revoke their API tokens, except the ones named (the caller's
    own). Returns (sessions ended, tokens revoked)."""
    ended = revoked = 0
    for ws in db.execute(select(WebSession).where(WebSession.user_id == user_id)).scalars():
        if ws.id != keep_session:
            db.delete(ws)
            ended += 1
    now = utcnow()
    for tok in db.execute(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))).scalars():
        if tok.id != keep_token:
            tok.revoked_at = now
            revoked += 1
    return ended, revoked


def change_password(db: Session, actor: Actor, old: str, new: str, keep_session: str | None = None) -> None:
    """A new password ends every other session and revokes every API token of the user (whoever knew the
    old password may have signed in or made a token); the session it is changed from stays."""
    user = actor.user
    if not verify_password(user.password_hash, old):
        raise Invalid(N_("The current password is wrong."), field="old_password")
    if old == new:
        raise Invalid(N_("The new password must differ from the current one."), field="new_password")
    passwords.check(new, user.username, actor.org.name, field="new_password")
    user.password_hash = hash_password(new)
    ended, revoked = end_other_sessions(db, user.id, keep_session, actor.token.id if actor.token is not None else None)
    audit.record_by(
        db, actor, "password_change", "user", user.id, after={"sessions_ended": ended, "tokens_revoked": revoked}
    )
    db.commit()


def set_locale(db: Session, user: User, locale: str) -> None:
    if locale not in ("zh_CN", "en"):
        raise Invalid(N_("Unknown language."))
    user.locale = locale
    db.commit()


# ---------------------------------------------------------------- API tokens

TOKEN_SCOPES = ("read", "write")
TOKEN_DEFAULT_DAYS = 90
TOKEN_MAX_DAYS = 365


def create_token(
    db: Session, actor: Actor, name: str, scopes: list[str], expires_days: int | None = TOKEN_DEFAULT_DAYS
) -> tuple[ApiToken, str]:
    """A token that expires after ``expires_days`` (default 90, at most 365; None means the default)."""
    if actor.token is not None:
        raise Forbidden(N_("API tokens cannot create other tokens; sign in to the web page."))
    bad = [s for s in scopes if s not in TOKEN_SCOPES]
    if bad or not scopes:
        raise Invalid(N_("Scopes must be read and/or write."), field="scopes")
    days = TOKEN_DEFAULT_DAYS if expires_days is None else expires_days
    if not 1 <= days <= TOKEN_MAX_DAYS:
        raise Invalid(N_("A token is valid for 1 to %(max)s days."), field="expires_days", max=TOKEN_MAX_DAYS)
    raw = new_token("cy")
    tok = ApiToken(
        user_id=actor.user.id,
        membership_id=actor.membership.id,
        name=name,
        prefix=raw[:10],
        token_hash=token_hash(raw),
        scopes=sorted(set(scopes)),
        expires_at=utcnow() + timedelta(days=days),
    )
    db.add(tok)
    db.flush()
    audit.record_by(
        db,
        actor,
        "create",
        "api_token",
        tok.id,
        None,
        {"name": name, "scopes": tok.scopes, "prefix": tok.prefix, "expires_at": tok.expires_at},
    )
    db.commit()
    return tok, raw


def list_tokens(db: Session, actor: Actor) -> list[ApiToken]:
    return list(
        db.execute(select(ApiToken).where(ApiToken.user_id == actor.user.id).order_by(ApiToken.id.desc())).scalars()
    )


def revoke_token(db: Session, actor: Actor, token_id: int) -> ApiToken:
    tok = db.get(ApiToken, token_id)
    if tok is None or tok.user_id != actor.user.id:
        raise NotFound(N_("No such token."))
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
        audit.record_by(db, actor, "revoke", "api_token", tok.id, None, {"prefix": tok.prefix})
        db.commit()
    return tok


# Token use is audited at most once a minute per token, so a busy integration does not flood
# the log while each period of use stays on record.
TOKEN_AUDIT_INTERVAL = timedelta(minutes=1)


def resolve_token(db: Session, raw: str) -> Actor:
    tok = db.execute(select(ApiToken).where(ApiToken.token_hash == token_hash(raw))).scalar_one_or_none()
    now = utcnow()
    if tok is not None and tok.revoked_at is None and tok.expires_at is not None and tok.expires_at < now:
        raise Unauthorized(N_("This API token has expired; create a new one on your account page."))
    if tok is None or tok.revoked_at is not None:
        raise Unauthorized(N_("The API token is unknown, revoked or expired."))
    user = db.get(User, tok.user_id)
    membership = db.get(Membership, tok.membership_id)
    if user is None or membership is None or not user.is_active:
        raise Unauthorized(N_("The API token is unknown, revoked or expired."))
    actor = Actor(user=user, membership=membership, token=tok)
    if tok.last_used_at is None or now - tok.last_used_at > TOKEN_AUDIT_INTERVAL:
        tok.last_used_at = now
        audit.record_by(db, actor, "token_use", "api_token", tok.id)
        db.commit()
    return actor


def has_perm(actor: Actor, perm: str) -> bool:
    if actor.org.status != OrgStatus.ACTIVE.value and perm not in (
        Permission.PUBLIC,
        Permission.AUTHENTICATED,
    ):
        return False
    return actor.has(perm)


def pending_registrations(db: Session, actor: Actor) -> list[Organisation]:
    f = DirectoryFilter(status=OrgStatus.PENDING.value)
    rows, _ = list_orgs(db, actor, f, 1, 200)
    return rows


def now() -> datetime:
    return utcnow()
