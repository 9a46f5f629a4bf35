"""Refusals in pages: a conflict raised by a service renders as a clear page in the user's language
(409/4xx with the Chinese message), never as a bare 500 — even after the service rolled back its session."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoyun.programme.workflows import allocation, subsidies
from tests.programme_workflows.helpers import actor, district_officer
from tests.programme_workflows.test_subsidies import apply, fresh_enterprise, item

SCORES = {"technology": "35", "benefit": "25", "costs": "25", "comment": "好"}


def _in_city_review(db: Session) -> Any:
    who = fresh_enterprise(db)
    a = apply(db, who, [item("100000")])
    subsidies.act(db, who, a.id, "submit")  # type: ignore[arg-type,attr-defined]
    officer = district_officer(db, a.district)  # type: ignore[attr-defined]
    subsidies.act(db, officer, a.id, "accept")  # type: ignore[attr-defined]
    subsidies.act(db, officer, a.id, "district_pass")  # type: ignore[attr-defined]
    return a


def test_second_expert_score_is_a_clear_409_page_and_the_form_is_replaced(db: Session, login: Any) -> None:
    a = _in_city_review(db)
    expert = login("expert")
    url = f"/programme/subsidies/{a.id}"
    assert 'name="technology"' in expert.get(url).text
    assert expert.post(url + "/score", SCORES).status_code == 303
    page = expert.get(url)
    assert 'name="technology"' not in page.text  # the form is replaced by the submitted score
    assert 'id="my-score"' in page.text and "85" in page.text
    again = expert.post(url + "/score", SCORES)
    assert again.status_code == 409, again.text[:500]
    assert "您已为该申报评分" in again.text and "Internal Server Error" not in again.text


def test_second_shared_service_application_is_a_clear_409_page(db: Session, login: Any) -> None:
    city = actor(db, "city")
    from chaoyun.identity.reference import Cluster

    svc = allocation.create_service(db, city, "共享设计平台", "design", 2026, {c.value: 2 for c in Cluster}, None)
    ent = login("factory")
    first = ent.post("/programme/shared-services/apply", {"service_id": str(svc.id)})
    assert first.status_code == 303, first.text[:500]
    again = ent.post("/programme/shared-services/apply", {"service_id": str(svc.id)})
    assert again.status_code == 409, again.text[:500]
    assert "Internal Server Error" not in again.text


def test_error_page_draws_the_nav_for_an_actor_whose_session_was_rolled_back_and_closed() -> None:
    """The root of the bare 500s: a service rolls back (every loaded object expires), the refusal propagates,
    the request's session closes, and drawing the error page's navigation read the detached actor."""
    from sqlalchemy.orm.exc import DetachedInstanceError

    from chaoyun.db import get_sessionmaker
    from chaoyun.web.deps import usable_actor
    from chaoyun.web.nav import for_actor

    s = get_sessionmaker()()
    who = actor(s, "city")
    s.rollback()
    s.close()
    try:
        for_actor(who)
        raise AssertionError("expected the detached actor to be unreadable")
    except DetachedInstanceError:
        pass
    fresh = usable_actor(who)
    assert fresh is not None and for_actor(fresh) and fresh.org.name and fresh.user.display_name


def test_round_pay_without_approved_vouchers_is_a_clear_page(db: Session, login: Any) -> None:
    from tests.programme_workflows.helpers import make_round

    rnd = make_round(db)
    city = login("city")
    r = city.post(f"/gov/programme/voucher-rounds/{rnd.id}/pay", {"reference": "PAY-1"})
    assert r.status_code == 409 and "Internal Server Error" not in r.text
    assert "没有" in r.text or "暂无" in r.text or "本批次" in r.text, r.text[-800:]
