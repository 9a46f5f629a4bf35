"""Typical cases are anonymised ("一家澄海区…企业") unless the enterprise's administrator consented to be named."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoyun.programme.commonproblems import service
from tests.programme.helpers import actor
from tests.programme.test_commonproblems import FULL, answers, completed, group, pdf_text, workbook_text


def test_cases_are_anonymised_unless_the_enterprise_consents(db: Session, login: Any) -> None:
    ent = actor(db, "factory2")
    org = ent.org
    assert org.enterprise is not None and org.district == "chenghai"
    cluster = org.enterprise.cluster
    # factory2's enterprise is the weakest of five; the laggards (total ≤ P25) are it and one other, and the
    # typical case is the quartile's median by (score, id): factory2's.
    completed(db, org.id, answers(network_security=[], data_security=[], talent=[], funding="none"))
    others = group(db, "chenghai", cluster, [answers(funding="none")] + [FULL] * 3, "澄海测试同行")
    assert len(others) == 4
    q = f"?cluster={cluster}&district=chenghai"
    city = login("city")

    def outputs() -> tuple[dict[str, Any], str, str, str]:
        api = city.get("/api/v1/programme/common-problems" + q).json()
        page = city.get("/programme/common-problems" + q).text
        text = pdf_text(city.get("/programme/common-problems/report.pdf" + q).content)
        sheets = workbook_text(city.get("/programme/common-problems/report.xlsx" + q).content)
        return api, page, text, sheets["典型案例"]

    label_zh, _ = service.case_label("chenghai", cluster)
    assert label_zh.startswith("一家澄海区") and label_zh.endswith("企业")
    api, page, text, cases = outputs()
    assert api["shown"] is True
    laggard = next(c for c in api["cases"] if c["role"] == "laggard")
    assert laggard["named"] is False and laggard["label_zh"] == label_zh
    for where in (str(api), page, text, cases):
        assert org.name not in where
    assert label_zh in page and label_zh in text and label_zh in cases

    # A member may not decide; the administrator consents through the API.
    member = login("operator")
    assert member.request("PUT", "/api/v1/programme/common-problems/consent", json={"named": True}).status_code == 403
    admin = login("factory2")
    assert admin.get("/api/v1/programme/common-problems/consent").json() == {"org_id": org.id, "named": False}
    r = admin.request("PUT", "/api/v1/programme/common-problems/consent", json={"named": True})
    assert r.status_code == 200 and r.json()["named"] is True

    api, page, text, cases = outputs()
    laggard = next(c for c in api["cases"] if c["role"] == "laggard")
    assert laggard["named"] is True and laggard["label_zh"] == org.name
    assert org.name in page and org.name in text and org.name in cases
    # The other enterprises stay anonymous.
    leader = next(c for c in api["cases"] if c["role"] == "leader")
    assert leader["named"] is False and leader["label_zh"] == label_zh

    # Withdrawn on the diagnosis page's card (a form post): anonymous again.
    card = admin.get("/programme/common-problems/consent")
    assert card.status_code == 200 and 'id="consent-named"' in card.text and "checked" in card.text
    r = admin.post("/programme/common-problems/consent", data={"next": "https://evil.example/x"})
    assert r.status_code == 303 and r.headers["location"].startswith("/programme/diagnoses")
    api, page, _, _ = outputs()
    assert org.name not in str(api) and org.name not in page
    # The member sees the decision, read-only; officers cannot decide for an enterprise.
    assert "consent-state" in login("operator").get("/programme/common-problems/consent").text
    assert login("city").post("/programme/common-problems/consent", data={"named": "1"}).status_code == 403
