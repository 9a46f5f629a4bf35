"""Request dependencies: who is asking, and the one permission check every route declares.

``requires(Permission.X)`` is the only way a route gets an ``Actor``; the route-table test
fails for any route without it (``public()`` is the explicit declaration for open routes).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, joinedload

from chaoyun.db import get_db, get_sessionmaker
from chaoyun.errors import AppError, Forbidden, Unauthorized
from chaoyun.i18n import N_, normalise
from chaoyun.identity import service
from chaoyun.identity.models import ApiToken, Membership, User
from chaoyun.identity.permissions import Actor, Permission

SESSION_COOKIE = "cy_session"
CSRF_COOKIE = "cy_csrf"
LANG_COOKIE = "cy_lang"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class LoginRequired(Exception):
    """Raised for page requests without a valid session; answered with a redirect to /login."""

    def __init__(self, next_url: str, expired: bool) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.expired = expired


class CsrfFailed(AppError):
    status = 403
    code = "csrf"


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token sent with an unsafe request: header first, then the form field."""
    if request.method not in UNSAFE:
        return None
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def anon_csrf(request: Request) -> str:
    """Double-submit token for forms shown before login (set as a cookie by the middleware)."""
    token = getattr(request.state, "anon_csrf", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        request.state.anon_csrf = token
    return str(token)


def _check_csrf(expected: str, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(expected, submitted):
        raise CsrfFailed(
            N_(
                "The form has expired or did not come from this site (CSRF check failed). "
                "Reload the page and try again."
            )
        )


class Requires:
    """Dependency that authenticates the request and checks one permission."""

    def __init__(self, perm: str) -> None:
        self.perm = perm

    # Async so it runs on the event loop: the session and token look-ups are short, indexed reads,
    # cheaper than a thread-pool hop under load.
    async def __call__(
        self,
        request: Request,
        db: Session = Depends(get_db),
        csrf: str | None = Depends(submitted_csrf),
    ) -> Actor | None:
        request.state.locale = normalise(request.cookies.get(LANG_COOKIE))
        actor = self._authenticate(request, db, csrf)
        if actor is not None:
            request.state.actor = actor
            request.state.locale = normalise(actor.user.locale)
            # Whatever the route's permission (even "any signed-in user"), a token changes state only
            # with the write scope: the method decides, so no route can forget it.
            if actor.token is not None and request.method in UNSAFE and "write" not in (actor.token.scopes or []):
                raise Forbidden(N_("This API token may only read; changes need a token with the write scope."))
        if self.perm == Permission.PUBLIC:
            if actor is None and request.method in UNSAFE and not is_api(request):
                _check_csrf(anon_csrf(request), csrf)
            return actor
        if actor is None:
            expired = bool(getattr(request.state, "session_expired", False))
            if is_api(request):
                if expired:
                    raise Unauthorized(N_("Your session has expired; sign in again."))
                raise Unauthorized(N_("Sign in, or send an API token, to use this."))
            raise LoginRequired(str(request.url.path), expired)
        if not service.has_perm(actor, self.perm):
            raise Forbidden(N_("Your role does not allow this."))
        return actor

    def _authenticate(self, request: Request, db: Session, csrf: str | None) -> Actor | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return service.resolve_token(db, auth[7:].strip())
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            if request.method in UNSAFE and self.perm != Permission.PUBLIC:
                # No session at all: answer "sign in" before complaining about CSRF.
                return None
            return None
        state = service.resolve_session(db, raw)
        if state.actor is None or state.session is None:
            request.state.session_expired = state.expired
            return None
        request.state.web_session = state.session
        request.state.csrf_token = state.session.csrf_token
        if request.method in UNSAFE:
            _check_csrf(state.session.csrf_token, csrf)
        return state.actor


def usable_actor(actor: Actor | None) -> Actor | None:
    """The actor with what every page draws (user, membership, organisation, token) readable.

    A service that refuses rolls its session back, which expires every loaded object; when the refusal
    propagates, the request's session is closed before the error page is drawn, and reading an expired,
    detached object raises ``DetachedInstanceError`` (a bare 500 instead of the message). Such an actor is
    re-read in a short session of its own and handed back detached but fully loaded.
    """
    if actor is None:
        return None
    objs: list[Any] = [actor.user, actor.membership]
    if "org" in actor.membership.__dict__:
        objs.append(actor.membership.__dict__["org"])
    if actor.token is not None:
        objs.append(actor.token)
    org_unloaded = "org" not in actor.membership.__dict__ and sa_inspect(actor.membership).detached
    if not org_unloaded and not any(_stale(o) for o in objs):
        return actor
    with get_sessionmaker()() as s:
        user = s.get(User, _pk(actor.user))
        m = s.get(Membership, _pk(actor.membership), options=[joinedload(Membership.org)])
        token = s.get(ApiToken, _pk(actor.token)) if actor.token is not None else None
        if user is None or m is None:
            return None
        _ = (user.display_name, m.role, m.org.name, m.org.kind, token.scopes if token is not None else None)
    return Actor(user=user, membership=m, token=token)


def _pk(obj: Any) -> Any:
    """Primary key without loading anything (an expired detached object cannot load)."""
    ident = sa_inspect(obj).identity
    return ident[0] if ident else None


def _stale(obj: Any) -> bool:
    state = sa_inspect(obj)
    if state.detached or state.session is None:
        return bool(state.expired_attributes)
    return not state.session.is_active


def requires(perm: str) -> Any:
    return Depends(Requires(perm))


def public() -> Any:
    return Depends(Requires(Permission.PUBLIC))
