from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.identity.models import AuditEntry, Organisation, User
from tests import factories


def _counts(db: Session) -> tuple[int, int, int]:
    db.expire_all()
    return (
        db.execute(select(func.count()).select_from(Organisation)).scalar_one(),
        db.execute(select(func.count()).select_from(User)).scalar_one(),
        db.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
    )


def test_self_registration_then_district_approval(db: Session, login: Any) -> None:
    anon = login(None)
    data = factories.registration()
    r = anon.post("/register", data)
    assert r.status_code == 303, r.text
    org = db.execute(select(Organisation).where(Organisation.credit_code == data["credit_code"])).scalar_one()
    assert org.status == "pending" and org.enterprise is not None
    assert org.enterprise.size_class == "small" and org.enterprise.cluster == "toys"
    # The new admin can sign in but cannot use the apps yet.
    me = login(data["username"], data["password"])
    assert "等待区县主管部门审核" in me.get("/home").text
    assert me.get(f"/orgs/{org.id}").status_code == 403
    # Another district's officer does not even see it; Chenghai's approves it.
    other = login("chaonan").get("/gov/registrations").text
    assert data["name"] not in other and f"/gov/registrations/{org.id}/" not in other
    officer = login("chenghai")
    assert data["name"] in officer.get("/gov/registrations").text
    assert officer.post(f"/gov/registrations/{org.id}/approve").status_code == 303
    db.refresh(org)
    assert org.status == "active"
    assert me.get(f"/orgs/{org.id}").status_code == 200
    assert officer.post(f"/gov/registrations/{org.id}/approve").status_code == 409


@pytest.mark.parametrize(
    ("override", "field", "zh"),
    [
        ({"credit_code": "91440515MA4UXXXX9A"}, "credit_code", "校验码"),
        ({"credit_code": "123"}, "credit_code", "18 位"),
        ({"name": "x" * 201}, "name", "过长"),
        ({"name": ""}, "name", "过短"),
        ({"district": "shenzhen"}, "district", "七个区县"),
        ({"industry_code": "X9999"}, "industry_code", "行业代码无效"),
        ({"employees": "many"}, "employees", "整数"),
        ({"password": "short"}, "password", "至少 10"),
        ({"password": "password123"}, "password", "过于常见"),
        ({"username": "bad name!"}, "username", "字母"),
    ],
)
def test_registration_bad_input_saves_nothing(
    db: Session, login: Any, override: dict[str, str], field: str, zh: str
) -> None:
    before = _counts(db)
    r = login(None).post("/register", factories.registration(**override))
    assert r.status_code in (409, 422)
    assert zh in r.text, r.text[:2000]
    assert _counts(db) == before


def test_registration_api_errors_in_both_languages(app: Any, db: Session, login: Any) -> None:
    anon = login(None)
    before = _counts(db)
    r = anon.client.post("/api/v1/registrations", json=factories.registration(credit_code="91440515MA4UXXXX9A"))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["field"] == "credit_code" and "校验码" in err["message_zh"] and "check character" in err["message_en"]
    missing = anon.client.post("/api/v1/registrations", json={"name": "x"})
    assert missing.status_code == 422
    fields = {f["field"] for f in missing.json()["error"]["fields"]}
    assert {"credit_code", "district", "password"} <= fields
    assert (
        anon.client.post(
            "/api/v1/registrations", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert _counts(db) == before


def test_duplicate_registration_is_refused(db: Session, login: Any) -> None:
    anon = login(None)
    data = factories.registration()
    assert anon.client.post("/api/v1/registrations", json=data).status_code == 202
    before = _counts(db)
    again = anon.client.post("/api/v1/registrations", json={**data, "username": data["username"] + "x"})
    assert again.status_code == 409 and "已注册" in again.json()["error"]["message_zh"]
    # A taken username is not disclosed: the same answer as a stored registration, nothing created.
    fresh = anon.client.post("/api/v1/registrations", json=factories.registration())
    same_user = anon.client.post(
        "/api/v1/registrations", json={**factories.registration(), "username": data["username"]}
    )
    assert same_user.status_code == fresh.status_code == 202 and same_user.json() == fresh.json()
    page = login(None).post("/register", {**factories.registration(), "username": "factory"})
    assert page.status_code == 303 and page.headers["location"] == "/login?msg=registered"
    assert _counts(db)[1] == before[1] + 1  # only the fresh registration's user


def test_enterprise_admin_edits_own_profile_with_audit(db: Session, login: Any) -> None:
    u = login("factory")
    me = u.get("/api/v1/me").json()
    org_id = me["memberships"][0]["org_id"]
    org = u.get(f"/api/v1/organisations/{org_id}").json()
    body = {
        "name": org["name"],
        "district": org["district"],
        "industry_code": org["enterprise"]["industry_code"],
        "employees": 350,
        "annual_revenue": "2500",
        "address": "澄海区新地址",
        "contact_name": "蔡经理",
        "contact_phone": "0754-85551234",
    }
    r = u.request("PATCH", f"/api/v1/organisations/{org_id}", json=body)
    assert r.status_code == 200 and r.json()["enterprise"]["size_class"] == "medium"
    entry = (
        db.execute(
            select(AuditEntry)
            .where(
                AuditEntry.object_type == "organisation",
                AuditEntry.object_id == str(org_id),
                AuditEntry.action == "update",
            )
            .order_by(AuditEntry.id.desc())
        )
        .scalars()
        .first()
    )
    assert entry is not None and entry.after is not None and entry.after["address"] == "澄海区新地址"
    # Firms cannot flag themselves as doubling/lead, nor move district.
    assert u.request("PATCH", f"/api/v1/organisations/{org_id}", json={**body, "is_lead": True}).status_code == 403
    moved = u.request("PATCH", f"/api/v1/organisations/{org_id}", json={**body, "district": "longhu"})
    assert moved.status_code == 403
    # A member (not admin) cannot edit at all.
    assert login("operator").request("PATCH", f"/api/v1/organisations/{org_id}", json=body).status_code == 403
    city = login("city")
    assert (
        city.request("PATCH", f"/api/v1/organisations/{org_id}", json={**body, "is_doubling": True}).status_code == 200
    )


def test_invitation_flow(db: Session, login: Any) -> None:
    admin = login("factory")
    org_id = admin.get("/api/v1/me").json()["memberships"][0]["org_id"]
    bad_role = admin.post(
        f"/api/v1/organisations/{org_id}/invitations", json={"display_name": "x", "role": "city_officer"}
    )
    assert bad_role.status_code == 422
    r = admin.post(
        f"/orgs/{org_id}/people/invite", {"display_name": "新员工", "email": "", "role": "enterprise_member"}
    )
    # The link is in the page only: no redirect, no token in a Location header or URL.
    assert r.status_code == 200 and "location" not in r.headers
    assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
    link = r.text.split('id="invite-url">')[1].split("<")[0]
    assert link.startswith("/invite/")
    anon = login(None)
    assert "新员工" in anon.get(link).text
    weak = anon.post(link, {"username": "newbie1", "password": "123"})
    assert weak.status_code == 422
    common = anon.post(link, {"username": "newbie1", "password": "qwerty123456"})
    assert common.status_code == 422 and "过于常见" in common.text
    ok = anon.post(link, {"username": "newbie1", "password": "newbie-password"})
    assert ok.status_code == 303
    assert anon.get(link).status_code == 404  # used
    member = login("newbie1", "newbie-password")
    assert member.get(f"/orgs/{org_id}").status_code == 200
    uid = member.get("/api/v1/me").json()["id"]
    assert admin.post(f"/orgs/{org_id}/people/{uid}/deactivate").status_code == 303
    assert member.get("/home").status_code == 303  # session ended


def test_directory_filters_search_and_pagination(login: Any) -> None:
    city = login("city")
    everyone = city.get("/api/v1/organisations?per_page=200").json()
    assert everyone["total"] >= 40
    toys = city.get("/api/v1/organisations?cluster=toys&per_page=200").json()
    assert toys["total"] > 0 and all(o["enterprise"]["cluster"] == "toys" for o in toys["items"])
    name = toys["items"][0]["name"]
    found = city.get("/api/v1/organisations", params={"q": name[3:7]}).json()
    assert any(o["name"] == name for o in found["items"])
    page = city.get("/gov/enterprises?cluster=toys")
    assert page.status_code == 200 and name in page.text
    deep = city.get("/gov/enterprises?page=999")
    assert deep.status_code == 200 and "没有符合条件的企业" in deep.text
    htmx = city.get("/gov/enterprises?district=chenghai", headers={"HX-Request": "true"})
    assert "<html" not in htmx.text and "澄海区" in htmx.text
    officer = login("chenghai")
    scoped = officer.get("/api/v1/organisations?per_page=200").json()
    assert scoped["items"] and all(o["district"] == "chenghai" for o in scoped["items"])


def test_directory_export_matches_filters(login: Any) -> None:
    officer = login("chenghai")
    r = officer.get("/gov/enterprises.xlsx?cluster=toys")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    ws = load_workbook(BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert "信用代码" in str(rows[0][0])
    expected = officer.get("/api/v1/organisations?cluster=toys&status=active&per_page=200").json()["total"]
    assert len(rows) - 1 == expected
    assert all(row[2] == "澄海区" for row in rows[1:])


def test_enterprise_and_provider_have_no_directory(login: Any) -> None:
    assert login("factory").get("/gov/enterprises").status_code == 403
    assert login("provider").get("/gov/enterprises.xlsx").status_code == 403


def test_people_page_is_scoped(login: Any) -> None:
    admin = login("admin")
    everyone = admin.get("/users?q=factory")
    assert "factory2" in everyone.text and "factory" in everyone.text
    own = login("factory").get("/users")
    assert own.status_code == 200 and "operator" in own.text and "factory2" not in own.text
    assert login("operator").get("/users").status_code == 403


def test_directory_lists_providers_for_city_wide_roles(login: Any) -> None:
    page = login("city").get("/gov/enterprises?kind=provider")
    assert "汕头电信政企云服务有限公司" in page.text
    district = login("chenghai").get("/gov/enterprises?kind=provider")
    assert 'id="filter-kind"' not in district.text
