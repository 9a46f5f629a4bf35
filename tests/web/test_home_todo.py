"""Each role's home page starts with its to-do list: counts and links to where the work is done."""

import re
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.devices.models import Alarm
from chaoyun.marketplace.models import Contract
from chaoyun.programme.models import CloudAdoption
from tests.devices.helpers import make_device, org_of
from tests.factories import registration


def _todo(html: str) -> dict[str, int]:
    """href -> count of the to-do card."""
    card = html[html.index('id="todo"') :]
    card = card[: card.index("</ul>")] if "</ul>" in card else ""
    return {h: int(n) for h, n in re.findall(r'data-todo="([^"]+)">[^<]+</a>\s*<span[^>]*>(\d+)</span>', card)}


def test_enterprise_sees_alarms_to_acknowledge(login: Any, db: Session) -> None:
    dev, _ = make_device(db, org_of(db, "factory"))
    db.add(Alarm(org_id=dev.org_id, device_id=dev.id, kind="offline", severity="major", message="离线"))
    db.commit()
    html = login("factory").get("/home").text
    assert "待办事项" in html and "待确认的告警" in html
    assert _todo(html).get("/alarms?status=active", 0) >= 1


def test_city_officer_sees_registrations_and_adoptions(login: Any, db: Session, app: Any) -> None:
    anon = login(None)
    r = anon.post("/register", data=registration())
    assert r.status_code == 303, r.text[:500]
    ent = org_of(db, "factory")
    db.add(CloudAdoption(org_id=ent.id, provider_name="待办测试", live_since=date(2026, 1, 1)))
    db.commit()
    html = login("city").get("/home").text
    todo = _todo(html)
    assert todo.get("/gov/registrations", 0) >= 1
    assert todo.get("/programme/adoptions?status=declared", 0) >= 1
    # The to-do card comes before the district chart.
    assert html.index('id="todo"') < html.index('id="chart-district"')


def test_provider_sees_contracts_to_confirm(login: Any, db: Session) -> None:
    prov = org_of(db, "provider")
    ent = org_of(db, "factory")
    db.add(
        Contract(
            enterprise_org_id=ent.id,
            provider_org_id=prov.id,
            title="待确认合同",
            amount=Decimal("1000"),
            signed_on=date(2026, 1, 2),
        )
    )
    db.commit()
    html = login("provider").get("/home").text
    assert _todo(html).get("/market/contracts", 0) >= 1
    # Evaluators change nothing, so nothing waits for them.
    assert 'data-todo="/gov/registrations"' not in login("evaluator").get("/home").text


def test_money_workflows_lines_reach_every_home(login: Any, db: Session) -> None:
    """The money workflows' waiting work is wired into the home to-do list (drafts, reviews, scores, payments)."""
    from chaoyun.programme.workflows import todo
    from chaoyun.web import nav
    from tests.programme.helpers import actor

    assert "workflows" in nav._TODOS
    for username in ("city", "chenghai", "expert", "factory", "provider"):
        a = actor(db, username)
        expected = {(t.label_msgid, t.count) for t in todo.todo_counts(db, a) if t.count > 0}
        shown = {(t.label, t.count) for t in nav.todos_for(db, a)}
        assert expected <= shown, username
