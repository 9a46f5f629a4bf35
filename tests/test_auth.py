from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
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
    assert r.status_code == 401 and "锁定" in r.text
    user = db.execute(select(User).where(User.username == "lockme")).scalar_one()
    db.refresh(user)
    assert user.locked_until is not None and user.locked_until > utcnow()
    # Once the lock expires the right password works again.
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.commit()
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
