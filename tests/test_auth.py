import contextlib
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.identity import throttle
from chaoyun.identity.crypto import hash_password
from chaoyun.identity.models import AuditEntry, Membership, User, WebSession
from tests.conftest import CSRF_RE, demo_password


def _make_user(db: Session, username: str, password: str = "right-password-1") -> User:
    city = db.execute(select(Membership).join(User).where(User.username == "operator")).scalars().first()
    assert city is not None
    u = User(username=username, display_name="测试", password_hash=hash_password(password))
    db.add(u)
    db.flush()
    db.add(Membership(user_id=u.id, org_id=city.org_id, role="enterprise_member"))
    db.commit()
    return u


def _audit(db: Session, action: str, username: str) -> int:
    db.expire_all()
    q = (
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == action, AuditEntry.actor_username == username)
    )
    return int(db.execute(q).scalar_one())


def test_login_sets_httponly_samesite_cookie_and_audits(app: Any, db: Session, login: Any) -> None:
    anon = login(None)
    before = _audit(db, "login", "city")
    r = anon.client.post(
        "/login",
        data={
            "username": "city",
            "password": demo_password("city"),
            "csrf_token": anon.csrf,
            "next": "/gov/enterprises",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/gov/enterprises"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("cy_session="))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert _audit(db, "login", "city") == before + 1


def test_wrong_password_is_refused_in_both_languages_and_audited(db: Session, login: Any) -> None:
    anon = login(None)
    before = _audit(db, "login_failed", "city")
    r = anon.client.post("/login", data={"username": "city", "password": "nope", "csrf_token": anon.csrf})
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    assert _audit(db, "login_failed", "city") == before + 1


def test_open_redirect_is_not_followed(login: Any) -> None:
    anon = login(None)
    r = anon.client.post(
        "/login",
        data={
            "username": "city",
            "password": demo_password("city"),
            "csrf_token": anon.csrf,
            "next": "//evil.example/x",
        },
    )
    assert r.headers["location"] == "/home"


def test_lockout_after_repeated_failures(db: Session, login: Any) -> None:
    _make_user(db, "lockme")
    anon = login(None)
    for _ in range(5):
        anon.client.post("/login", data={"username": "lockme", "password": "bad", "csrf_token": anon.csrf})
    r = anon.client.post("/login", data={"username": "lockme", "password": "right-password-1", "csrf_token": anon.csrf})
    assert r.status_code == 401 and "暂停登录 15 分钟" in r.text
    user = db.execute(select(User).where(User.username == "lockme")).scalar_one()
    db.refresh(user)
    assert user.locked_until is not None and user.locked_until > utcnow()
    # Once the lock expires the right password works again.
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.commit()
    throttle.clear()
    ok = anon.client.post(
        "/login", data={"username": "lockme", "password": "right-password-1", "csrf_token": anon.csrf}
    )
    assert ok.status_code == 303


def test_bad_csrf_token_is_refused_and_changes_nothing(db: Session, login: Any) -> None:
    u = login("factory")
    before = db.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    r = u.client.post("/account/tokens", data={"name": "x", "csrf_token": "forged"})
    assert r.status_code == 403
    assert "CSRF" in r.text
    r2 = u.client.post("/account/tokens", data={"name": "x"})
    assert r2.status_code == 403
    db.expire_all()
    assert db.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == before


def test_anonymous_form_without_csrf_is_refused(login: Any) -> None:
    anon = login(None)
    r = anon.client.post("/login", data={"username": "city", "password": demo_password("city")})
    assert r.status_code == 403


def test_expired_session_redirects_with_message(db: Session, login: Any) -> None:
    u = login("operator")
    for ws in db.execute(select(WebSession)).scalars():
        if ws.user_id == db.execute(select(User.id).where(User.username == "operator")).scalar_one():
            ws.expires_at = utcnow() - timedelta(minutes=1)
    db.commit()
    r = u.get("/home")
    assert r.status_code == 303 and "expired=1" in r.headers["location"]
    page = u.get(r.headers["location"])
    assert "会话已过期" in page.text
    api = u.get("/api/v1/me")
    assert api.status_code == 401


def test_password_change(db: Session, login: Any) -> None:
    _make_user(db, "changer", "first-password")
    u = login("changer", "first-password")
    bad = u.post("/account/password", {"old_password": "wrong", "new_password": "second-password"})
    assert bad.status_code == 422 and "当前密码不正确" in bad.text
    short = u.post("/account/password", {"old_password": "first-password", "new_password": "short"})
    assert short.status_code == 422
    ok = u.post("/account/password", {"old_password": "first-password", "new_password": "second-password"})
    assert ok.status_code == 303
    login("changer", "second-password")  # asserts a successful login


def test_logout_ends_the_session(login: Any) -> None:
    u = login("operator")
    assert u.post("/logout").status_code == 303
    assert u.get("/home").status_code == 303


def test_api_tokens_shown_once_hashed_scoped_revocable(app: Any, db: Session, login: Any) -> None:
    from fastapi.testclient import TestClient

    u = login("factory")
    r = u.post("/api/v1/tokens", json={"name": "erp", "scopes": ["read"]})
    assert r.status_code == 201
    raw, tid = r.json()["token"], r.json()["id"]
    listed = u.get("/api/v1/tokens").json()
    assert all("token" not in t for t in listed)
    assert raw not in u.get("/account").text
    api = TestClient(app, headers={"Authorization": f"Bearer {raw}"})
    me = api.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["username"] == "factory"
    assert u.get("/api/v1/tokens").json()[0]["last_used_at"] is not None
    assert _audit(db, "token_use", "factory") >= 1
    # read scope cannot write
    own = me.json()["memberships"][0]["org_id"]
    assert api.patch(f"/api/v1/organisations/{own}", json={}).status_code in (403, 422)
    bad = u.post("/api/v1/tokens", json={"name": "x", "scopes": ["admin"]})
    assert bad.status_code == 422 and bad.json()["error"]["message_zh"]
    assert u.request("DELETE", f"/api/v1/tokens/{tid}").status_code == 204
    gone = api.get("/api/v1/me")
    assert gone.status_code == 401 and "revoked" in gone.json()["error"]["message_en"]


def test_tokens_page_shows_new_token_once(login: Any) -> None:
    u = login("operator")
    r = u.post("/account/tokens", {"name": "scanner"})
    assert r.status_code == 200
    token = r.text.split('id="new-token">')[1].split("<")[0]
    assert token.startswith("cy_")
    assert token not in u.get("/account").text


def test_csrf_token_is_per_session(login: Any) -> None:
    a, b = login("operator"), login("operator")
    assert a.csrf != b.csrf
    page = a.get("/account")
    assert CSRF_RE.search(page.text).group(1) == a.csrf  # type: ignore[union-attr]


def _error_text(html: str) -> str:
    return html.split('class="alert alert-danger"')[1].split("</div>")[0]


def test_unknown_and_real_accounts_answer_alike(db: Session, login: Any) -> None:
    """Only real accounts used to lock, with their own message: a way to list usernames."""
    _make_user(db, "realone")
    anon = login(None)

    def attempt(name: str, password: str = "bad-password") -> Any:
        return anon.client.post("/login", data={"username": name, "password": password, "csrf_token": anon.csrf})

    answers: dict[str, list[tuple[int, str]]] = {"realone": [], "ghost-no-such-user": []}
    for name in answers:
        for _ in range(6):
            r = attempt(name)
            answers[name].append((r.status_code, _error_text(r.text)))
    assert answers["realone"] == answers["ghost-no-such-user"]
    # Locked: even the right password gets the same answer as everything else.
    r = attempt("realone", "right-password-1")
    assert (r.status_code, _error_text(r.text)) == answers["ghost-no-such-user"][-1]


def test_unknown_user_costs_a_password_verify(monkeypatch: Any, db: Session) -> None:
    from chaoyun.identity import service

    calls: list[str] = []
    real = service.verify_password

    def counting(stored: str, password: str) -> bool:
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(service, "verify_password", counting)
    for name in ("nobody-at-all", "operator"):
        with contextlib.suppress(Exception):
            service.authenticate(db, name, "wrong-password-x")
    assert len(calls) == 2  # one argon2 verify each, known or not (a dummy hash for the unknown name)


def test_many_failures_from_one_address_answer_429(db: Session, login: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("CHAOYUN_LOGIN_ADDRESS_MAX_FAILURES", "4")
    anon = login(None)
    for i in range(4):
        r = anon.client.post(
            "/login", data={"username": f"spray{i}", "password": "whatever-pass", "csrf_token": anon.csrf}
        )
        assert r.status_code == 401
    r = anon.client.post(
        "/login", data={"username": "operator", "password": demo_password("operator"), "csrf_token": anon.csrf}
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "网络" in r.text


def test_password_rules(db: Session, login: Any) -> None:
    from chaoyun.errors import Invalid
    from chaoyun.identity import passwords

    _make_user(db, "ruled", "first-password")
    u = login("ruled", "first-password")
    for bad, zh in (
        ("password", "至少需要 10"),
        ("Password123!", "过于常见"),
        ("1234567890", "过于常见"),
        ("ruled-2026", "用户名"),
    ):
        r = u.post("/account/password", {"old_password": "first-password", "new_password": bad})
        assert r.status_code == 422 and zh in r.text, bad
    # Every demo password (<username>-demo-2018) passes the rules.
    rows = db.execute(select(User.username)).scalars().all()
    for name in [n for n in rows if n in ("admin", "city", "factory", "operator", "provider", "evaluator")]:
        passwords.check(demo_password(name), name, "")
    try:
        passwords.check("shantou toys", "x", "Shantou Toys")
        raise AssertionError("organisation name accepted")
    except Invalid as exc:
        assert exc.messages()["zh"] and exc.messages()["en"]


def test_password_change_ends_other_sessions_and_tokens(app: Any, db: Session, login: Any) -> None:
    from fastapi.testclient import TestClient

    _make_user(db, "mover", "first-password")
    here = login("mover", "first-password")
    elsewhere = login("mover", "first-password")
    raw = here.post("/api/v1/tokens", json={"name": "t", "scopes": ["read"]}).json()["token"]
    api = TestClient(app, headers={"Authorization": f"Bearer {raw}"})
    assert api.get("/api/v1/me").status_code == 200
    ok = here.post("/account/password", {"old_password": "first-password", "new_password": "second-password"})
    assert ok.status_code == 303
    assert here.get("/account").status_code == 200  # the session it was changed from stays
    assert elsewhere.get("/account").status_code == 303  # the other one is over
    assert api.get("/api/v1/me").status_code == 401
    entry = db.execute(
        select(AuditEntry).where(AuditEntry.action == "password_change", AuditEntry.actor_username == "mover")
    ).scalar_one()
    assert entry.after == {"sessions_ended": 1, "tokens_revoked": 1}


def test_deactivation_revokes_tokens(app: Any, db: Session, login: Any) -> None:
    from fastapi.testclient import TestClient

    from chaoyun.identity.models import ApiToken

    u = _make_user(db, "leaver")
    client = login("leaver", "right-password-1")
    client.post("/api/v1/tokens", json={"name": "t", "scopes": ["read"]})
    org_id = db.execute(select(Membership.org_id).where(Membership.user_id == u.id)).scalar_one()
    assert login("factory").post(f"/orgs/{org_id}/people/{u.id}/deactivate").status_code in (303, 403, 404)
    from chaoyun.identity import service
    from chaoyun.identity.permissions import Actor

    # Deactivate directly through the service as the platform admin (the org may not be factory's).
    admin = db.execute(select(User).where(User.username == "admin")).scalar_one()
    service.set_user_active(db, Actor(user=admin, membership=admin.memberships[0]), org_id, u.id, False)
    db.expire_all()
    toks = db.execute(select(ApiToken).where(ApiToken.user_id == u.id)).scalars().all()
    assert toks and all(t.revoked_at is not None for t in toks)
    assert TestClient(app).get("/api/v1/me").status_code == 401


def test_tokens_expire(app: Any, db: Session, login: Any) -> None:
    from fastapi.testclient import TestClient

    from chaoyun.identity.models import ApiToken

    u = login("operator")
    page = u.post("/account/tokens", {"name": "month", "expires_days": "30"})
    assert page.status_code == 200 and 'class="token-expiry"' in page.text
    raw = page.text.split('id="new-token">')[1].split("<")[0]
    tok = db.execute(select(ApiToken).where(ApiToken.prefix == raw[:10])).scalar_one()
    assert tok.expires_at is not None and 29 <= (tok.expires_at - utcnow()).days <= 30
    default = u.post("/api/v1/tokens", json={"name": "d", "scopes": ["read"]}).json()
    assert default["expires_at"] is not None
    too_long = u.post("/api/v1/tokens", json={"name": "x", "scopes": ["read"], "expires_days": 400})
    assert too_long.status_code == 422
    tok.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    r = TestClient(app, headers={"Authorization": f"Bearer {raw}"}).get("/api/v1/me")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message_en"]
    assert "已过期" in r.json()["error"]["message_zh"]
    assert "已过期" in u.get("/account").text
