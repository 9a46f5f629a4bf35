"""HTML pages of the identity context: login, registration, account, organisations, directory, audit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun import i18n, timefmt
from chaoyun.db import get_db
from chaoyun.errors import AppError
from chaoyun.i18n import N_, normalise
from chaoyun.identity import audit, exports, service
from chaoyun.identity.audit_labels import action_label
from chaoyun.identity.models import AuditEntry, Organisation
from chaoyun.identity.permissions import Actor, Permission, visible_orgs
from chaoyun.identity.reference import (
    GOVERNMENT_ROLES,
    INDUSTRIES,
    ROLE_ORG_KIND,
    Cluster,
    District,
    OrgKind,
    OrgStatus,
    Role,
    SizeClass,
)
from chaoyun.identity.schemas import EnterpriseUpdate, RegistrationIn
from chaoyun.identity.throttle import TooManyAttempts
from chaoyun.settings import get_settings
from chaoyun.web import excel, lists, nav
from chaoyun.web.deps import LANG_COOKIE, SESSION_COOKIE, public, requires
from chaoyun.web.params import INT32_MAX, DbId
from chaoyun.web.render import render
from chaoyun.web.validation import field_errors

router = APIRouter(include_in_schema=False)

P = Permission
nav.register(
    nav.NavItem("any", N_("Home"), "/home", P.AUTHENTICATED, 0, group="top"),
    nav.NavItem("government", N_("Enterprise directory"), "/gov/enterprises", P.DIRECTORY_READ, 10, group="admin"),
    nav.NavItem("government", N_("Registrations"), "/gov/registrations", P.ORG_APPROVE, 20, group="admin"),
    nav.NavItem("government", N_("Audit log"), "/gov/audit", P.AUDIT_READ, 90, group="admin"),
    nav.NavItem("any", N_("People"), "/users", P.USERS_MANAGE, 95, group="admin"),
)

FLASH = {
    "saved": N_("Saved."),
    "registered": N_("Registration received. A district officer will review it; you can sign in meanwhile."),
    "password": N_("Password changed."),
    "approved": N_("Registration approved."),
    "rejected": N_("Registration rejected."),
    "invited": N_("Invitation created."),
    "joined": N_("Welcome! Your account is ready; sign in."),
    "revoked": N_("Token revoked."),
    "updated": N_("Updated."),
}


def _flash(request: Request) -> str | None:
    return FLASH.get(request.query_params.get("msg", ""))


def _safe_next(url: str | None) -> str:
    # Only same-site relative paths, so the login form cannot be used as an open redirect.
    if url and url.startswith("/") and not url.startswith("//"):
        return url
    return "/home"


def _form_ctx() -> dict[str, Any]:
    return {
        "districts": list(District),
        "industries": INDUSTRIES,
        "clusters": list(Cluster),
        "size_classes": list(SizeClass),
    }


@router.get("/")
def index(actor: Actor | None = public()) -> Response:
    return RedirectResponse("/home" if actor else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, actor: Actor | None = public()) -> Response:
    if actor is not None:
        return RedirectResponse("/home", status_code=303)
    expired = request.query_params.get("expired") == "1"
    return render(
        request,
        "identity/login.html",
        {
            "next": _safe_next(request.query_params.get("next")),
            "error": AppError(N_("Your session has expired; sign in again.")) if expired else None,
            "flash": _flash(request),
        },
    )


@router.post("/login")
def login_submit(
    request: Request,
    username: str = Form("", max_length=64),
    password: str = Form("", max_length=128),
    next: str = Form("/home"),
    db: Session = Depends(get_db),
    actor: Actor | None = public(),
) -> Response:
    client = request.client.host if request.client else ""
    try:
        user = service.authenticate(db, username, password, client)
        raw = service.start_session(db, user)
    except AppError as exc:
        page = render(
            request,
            "identity/login.html",
            {"error": exc, "next": _safe_next(next), "username": username},
            status=exc.status,
        )
        if isinstance(exc, TooManyAttempts):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    resp = RedirectResponse(_safe_next(next), status_code=303)
    s = get_settings()
    resp.set_cookie(
        SESSION_COOKIE, raw, httponly=True, samesite="lax", secure=s.cookie_secure, max_age=s.session_hours * 3600
    )
    resp.set_cookie(LANG_COOKIE, user.locale, samesite="lax", max_age=365 * 86400)
    return resp


@router.post("/logout")
def logout(request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.AUTHENTICATED)) -> Response:
    service.end_session(db, request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


@router.post("/lang")
def set_language(
    request: Request,
    lang: str = Form(...),
    back: str = Form("/home"),
    db: Session = Depends(get_db),
    actor: Actor | None = public(),
) -> Response:
    locale = normalise(lang)
    if actor is not None:
        service.set_locale(db, actor.user, locale)
    resp = RedirectResponse(_safe_next(back), status_code=303)
    resp.set_cookie(LANG_COOKIE, locale, samesite="lax", max_age=365 * 86400)
    return resp


@router.get("/register")
def register_page(request: Request, actor: Actor | None = public()) -> Response:
    return render(request, "identity/register.html", {**_form_ctx(), "values": {}, "errors": {}})


@router.post("/register")
async def register_submit(request: Request, actor: Actor | None = public(), db: Session = Depends(get_db)) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    errors: dict[str, str] = {}
    error: AppError | None = None
    try:
        data = RegistrationIn.model_validate(values)
        # The same answer whether or not the username was free (see service.register_enterprise).
        service.register_enterprise(db, data)
        return RedirectResponse("/login?msg=registered", status_code=303)
    except ValidationError as exc:
        for fe in field_errors(exc.errors()):
            errors[fe["field"]] = fe["message_en"] if request.state.locale == "en" else fe["message_zh"]
        error = AppError(N_("Some fields are invalid; nothing was saved."))
    except AppError as exc:
        error = exc
        if exc.field:
            errors[exc.field] = exc.message()
    values.pop("password", None)
    return render(
        request,
        "identity/register.html",
        {**_form_ctx(), "values": values, "errors": errors, "error": error},
        status=422,
    )


def _registrations_todo(db: Session, actor: Actor) -> list[nav.Todo]:
    if not actor.has(P.ORG_APPROVE):
        return []
    n = db.execute(
        select(func.count())
        .select_from(Organisation)
        .where(visible_orgs(actor), Organisation.kind == "enterprise", Organisation.status == "pending")
    ).scalar_one()
    return [nav.Todo(N_("Registrations to approve"), n, "/gov/registrations", 10)]


def _todo_panel(db: Session, actor: Actor) -> dict[str, Any]:
    return {"todos": nav.todos_for(db, actor)}


nav.register_todo("identity", _registrations_todo)
for _audience in ("government", "enterprise", "provider"):
    # First card of every home page: what waits for this user, with counts and links.
    nav.register_panel(nav.HomePanel(_audience, "_todo.html", P.AUTHENTICATED, _todo_panel, 0))


@router.get("/home")
def home(request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.AUTHENTICATED)) -> Response:
    ctx: dict[str, Any] = {"flash": _flash(request), "panels": nav.panels_for(db, actor)}
    if actor.audience == OrgKind.GOVERNMENT.value:
        base = select(func.count()).select_from(Organisation)
        scope = visible_orgs(actor)
        ctx["counts"] = {
            "enterprises": db.execute(
                base.where(scope, Organisation.kind == "enterprise", Organisation.status == "active")
            ).scalar_one(),
            "pending": db.execute(
                base.where(scope, Organisation.kind == "enterprise", Organisation.status == "pending")
            ).scalar_one(),
            "providers": db.execute(base.where(scope, Organisation.kind == "provider")).scalar_one(),
        }
        by_district = db.execute(
            select(Organisation.district, func.count())
            .where(scope, Organisation.kind == "enterprise", Organisation.status == "active")
            .group_by(Organisation.district)
        ).all()
        ctx["by_district"] = [(d, n) for d, n in by_district if d]
    return render(request, f"identity/home_{actor.audience}.html", ctx)


@router.get("/account")
def account(request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.AUTHENTICATED)) -> Response:
    return render(
        request,
        "identity/account.html",
        {
            "tokens": service.list_tokens(db, actor),
            "new_token": None,
            "flash": _flash(request),
        },
    )


@router.post("/account/password")
def account_password(
    request: Request,
    old_password: str = Form("", max_length=128),
    new_password: str = Form("", max_length=128),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.AUTHENTICATED),
) -> Response:
    try:
        ws = getattr(request.state, "web_session", None)
        service.change_password(db, actor, old_password, new_password, keep_session=ws.id if ws else None)
    except AppError as exc:
        return render(
            request, "identity/account.html", {"tokens": service.list_tokens(db, actor), "error": exc}, status=422
        )
    return RedirectResponse("/account?msg=password", status_code=303)


@router.post("/account/membership")
def account_membership(
    request: Request,
    membership_id: int = Form(..., ge=1, le=INT32_MAX),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.AUTHENTICATED),
) -> Response:
    ws = request.state.web_session
    service.switch_membership(db, ws, actor, membership_id)
    return RedirectResponse("/home", status_code=303)


@router.post("/account/tokens")
def account_token_create(
    request: Request,
    name: str = Form("", max_length=100),
    write: bool = Form(False),
    expires_days: int = Form(service.TOKEN_DEFAULT_DAYS, ge=1, le=service.TOKEN_MAX_DAYS),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.AUTHENTICATED),
) -> Response:
    error = None
    raw = None
    try:
        if not name.strip():
            raise AppError(N_("Give the token a name."), field="name")
        scopes = ["read", "write"] if write else ["read"]
        _, raw = service.create_token(db, actor, name.strip(), scopes, expires_days)
    except AppError as exc:
        error = exc
    return render(
        request,
        "identity/account.html",
        {"tokens": service.list_tokens(db, actor), "new_token": raw, "error": error},
        status=422 if error else 200,
    )


@router.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(
    token_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.AUTHENTICATED)
) -> Response:
    service.revoke_token(db, actor, token_id)
    return RedirectResponse("/account?msg=revoked", status_code=303)


# ---------------------------------------------------------------- organisations


@router.get("/orgs/{org_id}")
def org_page(
    request: Request, org_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_READ)
) -> Response:
    org = service.get_org(db, actor, org_id)
    history = (
        db.execute(
            select(AuditEntry)
            .where(AuditEntry.object_type == "organisation", AuditEntry.object_id == str(org.id))
            .order_by(AuditEntry.id.desc())
            .limit(20)
        )
        .scalars()
        .all()
        if actor.has(P.AUDIT_READ) or actor.org_id == org.id
        else []
    )
    return render(
        request,
        "identity/org.html",
        {
            "org": org,
            "industries": INDUSTRIES,
            "history": history,
            "flash": _flash(request),
            "can_edit": _can_edit(actor, org),
        },
    )


def _can_edit(actor: Actor, org: Organisation) -> bool:
    if not service.has_perm(actor, P.ORG_WRITE) or org.enterprise is None:
        return False
    return actor.role in (Role.PLATFORM_ADMIN, Role.CITY_OFFICER) or actor.org_id == org.id


@router.get("/orgs/{org_id}/edit")
def org_edit_page(
    request: Request, org_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_WRITE)
) -> Response:
    org = service.get_org(db, actor, org_id)
    if not _can_edit(actor, org):
        raise AppError(N_("Your role may not change this organisation."))
    assert org.enterprise is not None
    values = {
        "name": org.name,
        "district": org.district,
        "industry_code": org.enterprise.industry_code,
        "employees": org.enterprise.employees,
        "annual_revenue": org.enterprise.annual_revenue,
        "address": org.address,
        "contact_name": org.contact_name,
        "contact_phone": org.contact_phone,
        "is_doubling": org.enterprise.is_doubling,
        "is_lead": org.enterprise.is_lead,
    }
    return render(request, "identity/org_edit.html", {**_form_ctx(), "org": org, "values": values, "errors": {}})


@router.post("/orgs/{org_id}/edit")
async def org_edit_submit(
    request: Request, org_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_WRITE)
) -> Response:
    org = service.get_org(db, actor, org_id)
    form = await request.form()
    values: dict[str, Any] = {k: v for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    city = actor.role in (Role.PLATFORM_ADMIN, Role.CITY_OFFICER)
    if city:
        values["is_doubling"] = "is_doubling" in values
        values["is_lead"] = "is_lead" in values
    else:
        values.pop("is_doubling", None)
        values.pop("is_lead", None)
    errors: dict[str, str] = {}
    try:
        data = EnterpriseUpdate.model_validate(values)
        service.update_enterprise(db, actor, org_id, data)
        return RedirectResponse(f"/orgs/{org_id}?msg=saved", status_code=303)
    except ValidationError as exc:
        for fe in field_errors(exc.errors()):
            errors[fe["field"]] = fe["message_en"] if request.state.locale == "en" else fe["message_zh"]
        error: AppError = AppError(N_("Some fields are invalid; nothing was saved."))
    except AppError as exc:
        db.rollback()
        error = exc
        if exc.field:
            errors[exc.field] = exc.message()
    return render(
        request,
        "identity/org_edit.html",
        {**_form_ctx(), "org": org, "values": values, "errors": errors, "error": error},
        status=422,
    )


@router.get("/orgs/{org_id}/people")
def org_people(
    request: Request, org_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_READ)
) -> Response:
    return _people_page(request, db, actor, org_id)


def _people_page(request: Request, db: Session, actor: Actor, org_id: int, invite_url: str | None = None) -> Response:
    org = service.get_org(db, actor, org_id)
    members = service.list_members(db, actor, org_id)
    can_manage = service.has_perm(actor, P.USERS_MANAGE) and (
        actor.role == Role.PLATFORM_ADMIN or actor.org_id == org.id
    )
    roles = [r for r in Role if ROLE_ORG_KIND[r].value == org.kind and r != Role.PLATFORM_ADMIN]
    return render(
        request,
        "identity/people.html",
        {
            "org": org,
            "members": members,
            "can_manage": can_manage,
            "roles": roles,
            "invite_url": invite_url,
            "flash": N_("Invitation created.") if invite_url else _flash(request),
        },
    )


@router.post("/orgs/{org_id}/people/invite")
def org_invite(
    request: Request,
    org_id: DbId,
    display_name: str = Form("", max_length=100),
    email: str = Form("", max_length=200),
    role: str = Form(""),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.USERS_MANAGE),
) -> Response:
    if not display_name.strip():
        raise AppError(N_("Enter the person's name."), field="display_name")
    _, raw = service.invite(db, actor, org_id, display_name.strip(), email.strip(), role)
    # The link is shown in this answer only: never in a Location header or a URL (history, logs, Referer).
    page = _people_page(request, db, actor, org_id, invite_url=f"/invite/{raw}")
    page.headers["Cache-Control"] = "no-store"
    page.headers["Referrer-Policy"] = "no-referrer"
    return page


@router.post("/orgs/{org_id}/people/{user_id}/deactivate")
def org_deactivate(
    org_id: DbId, user_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.USERS_MANAGE)
) -> Response:
    service.set_user_active(db, actor, org_id, user_id, False)
    return RedirectResponse(f"/orgs/{org_id}/people?msg=updated", status_code=303)


@router.post("/orgs/{org_id}/people/{user_id}/activate")
def org_activate(
    org_id: DbId, user_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.USERS_MANAGE)
) -> Response:
    service.set_user_active(db, actor, org_id, user_id, True)
    return RedirectResponse(f"/orgs/{org_id}/people?msg=updated", status_code=303)


@router.get("/invite/{token}")
def invite_page(
    request: Request, token: str, db: Session = Depends(get_db), actor: Actor | None = public()
) -> Response:
    inv = service.find_invitation(db, token)
    org = db.get(Organisation, inv.org_id)
    return render(request, "identity/invite.html", {"inv": inv, "org": org, "token": token, "errors": {}})


@router.post("/invite/{token}")
def invite_accept(
    request: Request,
    token: str,
    username: str = Form("", max_length=64),
    password: str = Form("", max_length=128),
    db: Session = Depends(get_db),
    actor: Actor | None = public(),
) -> Response:
    inv = service.find_invitation(db, token)
    org = db.get(Organisation, inv.org_id)
    try:
        from chaoyun.identity.schemas import AcceptInviteIn

        data = AcceptInviteIn.model_validate({"username": username, "password": password})
        service.accept_invitation(db, token, data.username, data.password)
    except ValidationError as exc:
        errs = {
            fe["field"]: fe["message_en"] if request.state.locale == "en" else fe["message_zh"]
            for fe in field_errors(exc.errors())
        }
        return render(
            request,
            "identity/invite.html",
            {"inv": inv, "org": org, "token": token, "errors": errs, "username": username},
            status=422,
        )
    except AppError as exc:
        return render(
            request,
            "identity/invite.html",
            {
                "inv": inv,
                "org": org,
                "token": token,
                "errors": {exc.field or "username": exc.message()},
                "username": username,
            },
            status=exc.status,
        )
    return RedirectResponse("/login?msg=joined", status_code=303)


@router.get("/users")
def users_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.USERS_MANAGE)) -> Response:
    q = request.query_params.get("q", "")[:64]
    page = _page_number(request)
    rows, total = service.search_users(db, actor, q, page, 50)
    return render(
        request,
        "identity/users.html",
        {"rows": rows, "total": total, "page": page, "pages": max(1, (total + 49) // 50), "q": q},
    )


# ---------------------------------------------------------------- government console


def directory_filter(request: Request) -> service.DirectoryFilter:
    qp = request.query_params
    return service.DirectoryFilter(
        q=qp.get("q", "")[:100],
        district=qp.get("district", ""),
        cluster=qp.get("cluster", ""),
        industry_code=qp.get("industry_code", ""),
        size_class=qp.get("size_class", ""),
        doubling=qp.get("doubling") == "1",
        lead=qp.get("lead") == "1",
        status=qp.get("status", OrgStatus.ACTIVE.value),
        kind=qp.get("kind", OrgKind.ENTERPRISE.value) if qp.get("kind") in {k.value for k in OrgKind} else "enterprise",
    )


def _page_number(request: Request) -> int:
    try:
        # Bounded like the API's page parameter: a huge page number overflowed the SQL OFFSET.
        return min(max(1, int(request.query_params.get("page", "1"))), 100_000)
    except ValueError:
        return 1


@router.get("/gov/enterprises")
# Async on purpose: its queries are short indexed reads, and skipping the thread-pool hop (and the
# GIL hand-offs between pool threads under load) took p95 from ~110 to ~60 ms in benchmarks/pages.py.
async def directory(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.DIRECTORY_READ)
) -> Response:
    f = directory_filter(request)
    page = _page_number(request)
    per_page = 25
    rows, total = service.directory_page(db, actor, f, page, per_page)
    pages = max(1, (total + per_page - 1) // per_page)
    tpl = "identity/_directory_table.html" if request.headers.get("hx-request") else "identity/directory.html"
    return render(
        request,
        tpl,
        {
            **_form_ctx(),
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages,
            "f": f,
            "district_locked": actor.role == Role.DISTRICT_OFFICER,
        },
    )


@router.get("/gov/enterprises.xlsx")
def directory_export(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.DIRECTORY_READ)
) -> Response:
    f = directory_filter(request)
    data = exports.directory_xlsx(db, actor, f)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    audit.record_by(db, actor, "export", "directory", "", None, {"filter": f.__dict__})
    db.commit()
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="enterprises-{stamp}.xlsx"'},
    )


@router.get("/gov/registrations")
def registrations(request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_APPROVE)) -> Response:
    return render(
        request,
        "identity/registrations.html",
        {"rows": service.pending_registrations(db, actor), "flash": _flash(request)},
    )


@router.post("/gov/registrations/{org_id}/approve")
def registration_approve(
    org_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(P.ORG_APPROVE)
) -> Response:
    service.decide_registration(db, actor, org_id, True)
    return RedirectResponse("/gov/registrations?msg=approved", status_code=303)


@router.post("/gov/registrations/{org_id}/reject")
def registration_reject(
    org_id: DbId,
    reason: str = Form("", max_length=500),
    db: Session = Depends(get_db),
    actor: Actor = requires(P.ORG_APPROVE),
) -> Response:
    service.decide_registration(db, actor, org_id, False, reason)
    return RedirectResponse("/gov/registrations?msg=rejected", status_code=303)


def _audit_actions(db: Session) -> list[str]:
    return sorted(a for (a,) in db.execute(select(AuditEntry.action).distinct()).all())


def _audit_list(request: Request, actions: list[str]) -> tuple[Any, lists.ListParams]:
    """The entries the page's filters and search pick, and the list parameters (q, sort, page, size).
    Only city-wide roles read the log, so no further scope."""
    qp = request.query_params

    def _date(name: str, end: bool = False) -> datetime | None:
        # The dates are Beijing days, and "until" includes its whole day.
        try:
            d = date.fromisoformat(qp[name]) if qp.get(name) else None
        except ValueError:
            return None
        if d is None:
            return None
        return timefmt.day_end_exclusive(d) if end else timefmt.day_start(d)

    lp = lists.params(request, audit.SORT_COLUMNS, "-ts")
    stmt = audit.query(
        action=qp.get("action") or None,
        object_type=qp.get("object_type") or None,
        actor=qp.get("actor") or None,
        since=_date("since"),
        until=_date("until", end=True),
    )
    # Actions are searched by code and by their label in the page's language: the few distinct codes
    # are matched here, the entries in SQL.
    needle = lp.q.casefold()
    codes = [a for a in actions if needle in a.casefold() or needle in action_label(a).casefold()]
    return audit.search(stmt, lp.q, codes), lp


@router.get("/gov/audit")
def audit_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.AUDIT_READ)) -> Response:
    actions = _audit_actions(db)
    stmt, lp = _audit_list(request, actions)
    pg = lists.paginate_select(db, stmt, lp, audit.SORT_COLUMNS, tiebreak=AuditEntry.id)
    return render(request, "identity/audit.html", {"pg": pg, "rows": pg.items, "actions": actions})


AUDIT_EXPORT_MAX = 100_000


@router.get("/gov/audit.xlsx")
def audit_export(request: Request, db: Session = Depends(get_db), actor: Actor = requires(P.AUDIT_READ)) -> Response:
    """The entries the page's filters and search pick, in the page's order (at most 100,000), as Excel."""
    heads = (N_("No."), N_("Time"), N_("Who"), N_("Action"), N_("Object"), N_("Before"), N_("After"), N_("Hash"))
    stmt, lp = _audit_list(request, _audit_actions(db))
    col, tie = audit.SORT_COLUMNS[lp.sort], AuditEntry.id
    order = (col.desc(), tie.desc()) if lp.desc else (col.asc(), tie.asc())
    entries = db.execute(stmt.order_by(None).order_by(*order).limit(AUDIT_EXPORT_MAX)).scalars().all()
    rows = (
        [
            e.id,
            e.ts,
            e.actor_username,
            action_label(e.action),
            f"{e.object_type} {e.object_id}".strip(),
            json.dumps(e.before, ensure_ascii=False) if e.before else "",
            json.dumps(e.after, ensure_ascii=False) if e.after else "",
            e.hash,
        ]
        for e in entries
    )
    data = excel.table_xlsx(i18n.gettext("Audit log"), [i18n.gettext(h) for h in heads], rows)
    audit.record_by(db, actor, "export", "audit_log", "", None, {"filter": dict(request.query_params)})
    db.commit()
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.xlsx"'},
    )


def government_roles() -> set[Role]:
    return set(GOVERNMENT_ROLES)
