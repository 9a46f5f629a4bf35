"""Alarms: a worked example of threshold with duration and hysteresis, rate of change, offline, state in a
shift; lifecycle by people; webhooks delivered to a real local HTTP server with retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import delete, select

from chaoyun.devices import alarms, ingest
from chaoyun.devices.models import Alarm, AlarmRule, Webhook, WebhookDelivery
from chaoyun.devices.store import to_ms
from tests.devices.helpers import make_device, org_of

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _rule(db: Any, device: Any, kind: str, metric: str | None, **params: Any) -> AlarmRule:
    r = AlarmRule(org_id=device.org_id, device_id=device.id, name=kind, kind=kind, metric=metric, params=params)
    db.add(r)
    db.commit()
    alarms.forget_rules()
    return r


def _send(db: Any, device: Any, metric: str, series: list[tuple[int, Any]]) -> None:
    ingest.ingest(
        db, device, [{"ts": to_ms(T0 + timedelta(seconds=s)), "values": {metric: v}} for s, v in series], "test"
    )


def _alarms(db: Any, device: Any) -> list[Alarm]:
    db.expire_all()
    return list(db.execute(select(Alarm).where(Alarm.device_id == device.id).order_by(Alarm.id)).scalars())


def test_threshold_with_duration_and_hysteresis_worked_example(db: Any) -> None:
    """Rule: barrel_temp > 240 for 30 s raises; it clears only below 240 - 5 = 235.

    t=0 238 · t=10 241 (breach starts) · t=20 245 · t=30 239 (back under: the 30 s are not reached, reset)
    t=40 242 (breach again) · t=60 243 · t=70 244 → 30 s over the limit since t=40: RAISED at t=70
    t=80 238 (below 240 but not below 235: hysteresis keeps it active) · t=90 236 (still active)
    t=100 234 → CLEARED at t=100 by the system."""
    device, _ = make_device(db, org_of(db, "factory"))
    _rule(db, device, "threshold", "barrel_temp", op=">", value=240, duration_s=30, hysteresis=5)
    _send(db, device, "barrel_temp", [(0, 238), (10, 241), (20, 245), (30, 239), (40, 242), (60, 243)])
    assert _alarms(db, device) == []
    _send(db, device, "barrel_temp", [(70, 244)])
    [a] = _alarms(db, device)
    assert a.status == "active" and a.started_at == T0 + timedelta(seconds=70) and a.value == 244
    _send(db, device, "barrel_temp", [(80, 238), (90, 236)])
    assert _alarms(db, device)[0].status == "active"
    _send(db, device, "barrel_temp", [(100, 234)])
    [a] = _alarms(db, device)
    assert a.status == "cleared" and a.cleared_by == "system" and a.cleared_at == T0 + timedelta(seconds=100)


def test_state_row_written_when_its_meaning_changes(db: Any) -> None:
    """A point that changes nothing (no breach starts or ends) leaves the threshold rule's stored row alone,
    except that last_ts is refreshed once it is STATE_REFRESH_MS behind; a breach start is written at once."""
    from chaoyun.devices.models import AlarmState

    device, _ = make_device(db, org_of(db, "factory"))
    rule = _rule(db, device, "threshold", "barrel_temp", op=">", value=240, duration_s=30, hysteresis=5)

    def stored() -> AlarmState:
        db.expire_all()
        st = db.get(AlarmState, (rule.id, device.id))
        assert st is not None
        return st

    _send(db, device, "barrel_temp", [(0, 230)])
    assert stored().last_ts == T0  # a new state is always written
    _send(db, device, "barrel_temp", [(10, 231)])
    assert stored().last_ts == T0  # nothing changed: not rewritten
    _send(db, device, "barrel_temp", [(20, 241)])
    st = stored()
    assert st.pending_since == T0 + timedelta(seconds=20) and st.last_ts == T0 + timedelta(seconds=20)
    _send(db, device, "barrel_temp", [(30, 242)])
    assert stored().last_ts == T0 + timedelta(seconds=20)
    refresh_s = alarms.STATE_REFRESH_MS // 1000
    _send(db, device, "barrel_temp", [(20 + refresh_s, 233)])  # breach over (pending reset) and due anyway
    st = stored()
    assert st.pending_since is None and st.last_ts == T0 + timedelta(seconds=20 + refresh_s)
    assert _alarms(db, device) == []


def test_rows_at_rest_are_not_read_and_late_points_still_skipped(db: Any) -> None:
    """A batch reads only the state rows its evaluation depends on (open alarm, pending breach, or last_ts after
    its oldest point); the others evaluate from the empty state and are upserted when written. A late breach
    older than the stored last_ts is still skipped, and one row per rule and device remains."""
    from sqlalchemy import func

    from chaoyun.devices.models import AlarmState

    device, _ = make_device(db, org_of(db, "factory"))
    rule = _rule(db, device, "threshold", "barrel_temp", op=">", value=240, duration_s=0, hysteresis=5)
    _send(db, device, "barrel_temp", [(100, 230)])
    alarms.forget_rules()  # as a fresh worker: nothing known about the row this process wrote
    _send(db, device, "barrel_temp", [(50, 250)])  # late: the row's last_ts (t=100) is after it
    assert _alarms(db, device) == []
    _send(db, device, "barrel_temp", [(200, 231)])  # at rest: not read; upserted (due, or unknown here)
    _send(db, device, "barrel_temp", [(210, 250)])  # at rest again: evaluates from the empty state, raises
    [a] = _alarms(db, device)
    assert a.status == "active" and a.started_at == T0 + timedelta(seconds=210)
    _send(db, device, "barrel_temp", [(220, 230)])  # the open alarm's row is read: cleared
    assert _alarms(db, device)[0].status == "cleared"
    db.expire_all()
    n = db.execute(select(func.count()).select_from(AlarmState).where(AlarmState.rule_id == rule.id)).scalar()
    assert n == 1


def test_alarm_storm_in_one_batch(db: Any) -> None:
    """Many devices over the limit in one batch: each gets its own alarm (raised together at the batch's end),
    its state row carries the alarm's id, and the next batch clears them; a device that goes over and back in
    the same batch has its alarm raised and cleared, with both webhook deliveries queued in that order."""
    from chaoyun.devices.models import AlarmState

    org = org_of(db, "factory2")
    devices = [make_device(db, org)[0] for _ in range(5)]
    hook = Webhook(org_id=org.id, name="storm", url="https://example.invalid/hook", secret="s")
    db.add(hook)
    db.commit()
    rules = [_rule(db, d, "threshold", "barrel_temp", op=">", value=240, hysteresis=5) for d in devices]

    def batch(series: list[list[tuple[int, float]]]) -> None:
        items = [
            (d, [{"ts": to_ms(T0 + timedelta(seconds=t)), "values": {"barrel_temp": v}} for t, v in pts])
            for d, pts in zip(devices, series, strict=True)
        ]
        ingest.ingest_batch(db, items, "test")

    batch([[(0, 250)], [(0, 251)], [(0, 252)], [(0, 230)], [(0, 250), (10, 220)]])
    raised = [_alarms(db, d) for d in devices]
    assert [len(a) for a in raised] == [1, 1, 1, 0, 1]
    assert [a[0].status for a in raised if a] == ["active", "active", "active", "cleared"]
    flipped = raised[4][0]
    assert flipped.cleared_at == T0 + timedelta(seconds=10) and flipped.cleared_by == "system"
    events = list(
        db.execute(
            select(WebhookDelivery.event).where(WebhookDelivery.alarm_id == flipped.id).order_by(WebhookDelivery.id)
        ).scalars()
    )
    assert events == ["alarm.raised", "alarm.cleared"]
    for d, r, a in zip(devices[:3], rules[:3], raised[:3], strict=True):
        st = db.get(AlarmState, (r.id, d.id))
        assert st is not None and st.alarm_id == a[0].id
    batch([[(20, 230)], [(20, 230)], [(20, 241)], [(20, 230)], [(20, 230)]])  # 241: inside the hysteresis band
    assert [_alarms(db, d)[0].status for d in devices[:3]] == ["cleared", "cleared", "active"]
    # Its deliveries are not for the other tests' delivery runs (they share this file's database).
    db.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
    db.delete(hook)
    db.commit()


def test_rate_of_change(db: Any) -> None:
    device, _ = make_device(db, org_of(db, "factory"), model="air_compressor")
    _rule(db, device, "rate", "outlet_pressure", max_per_min=2.0)
    # 7.0 → 7.2 in 60 s is 0.2/min; then 7.2 → 5.2 in 30 s is -4/min: raised; then steady: cleared.
    _send(db, device, "outlet_pressure", [(0, 7.0), (60, 7.2), (90, 5.2)])
    [a] = _alarms(db, device)
    assert a.status == "active" and a.details["per_min"] == -4.0
    _send(db, device, "outlet_pressure", [(150, 5.3)])
    assert _alarms(db, device)[0].status == "cleared"


def test_state_in_shift(db: Any) -> None:
    device, _ = make_device(db, org_of(db, "factory"))
    _rule(db, device, "state", "state", states=["fault"], shift={"start": "00:00", "end": "23:59"}, duration_s=60)
    _send(db, device, "state", [(0, "running"), (10, "fault"), (40, "fault")])
    assert _alarms(db, device) == []
    _send(db, device, "state", [(70, "fault")])
    assert _alarms(db, device)[0].status == "active"
    _send(db, device, "state", [(80, "running")])
    assert _alarms(db, device)[0].status == "cleared"


def test_offline_raised_by_periodic_check_and_cleared_by_data(db: Any) -> None:
    device, _ = make_device(db, org_of(db, "factory2"))
    _rule(db, device, "offline", None, seconds=60)
    now = datetime.now(UTC)
    ingest.ingest(db, device, {"barrel_temp": 200}, "test", received_at=now - timedelta(seconds=120))
    alarms.check_offline(db, now)
    [a] = _alarms(db, device)
    assert a.kind == "offline" and a.status == "active"
    alarms.check_offline(db, now)  # still silent: no second alarm
    assert len(_alarms(db, device)) == 1
    ingest.ingest(db, device, {"barrel_temp": 201}, "test", received_at=now)
    assert _alarms(db, device)[0].status == "cleared"


def test_lifecycle_by_people(app: Any, db: Any, login: Any) -> None:
    device, _ = make_device(db, org_of(db, "factory"))
    _rule(db, device, "threshold", "oil_temp", op=">", value=50)
    _send(db, device, "oil_temp", [(0, 55)])
    [a] = _alarms(db, device)
    operator = login("operator")
    r = operator.post(f"/api/v1/alarms/{a.id}/ack", json={})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged" and r.json()["acknowledged_by"] == "operator"
    # Another enterprise cannot touch it; the evaluator may not.
    assert login("factory2").post(f"/api/v1/alarms/{a.id}/clear", json={}).status_code == 404
    assert login("evaluator").post(f"/api/v1/alarms/{a.id}/clear", json={}).status_code == 403
    r = login("factory").post(f"/alarms/{a.id}/clear")
    assert r.status_code == 303
    a = _alarms(db, device)[0]
    assert a.status == "cleared" and a.cleared_by == "factory"
    page = operator.get("/alarms?status=all")
    assert page.status_code == 200 and "oil_temp = 55 &gt; 50" in page.text


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    fail_first = 0
    redirect_to = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Receiver.redirect_to:
            self.send_response(302)
            self.send_header("Location", _Receiver.redirect_to)
            _Receiver.redirect_to = ""
            self.end_headers()
            return
        if _Receiver.fail_first > 0:
            _Receiver.fail_first -= 1
            self.send_response(500)
            self.end_headers()
            return
        _Receiver.received.append({"body": json.loads(body), "sig": self.headers["X-Chaoyun-Signature"]})
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:  # where a followed redirect would land
        _Receiver.received.append({"body": {"event": "redirected"}, "sig": ""})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # A loopback receiver needs the private-address check lifted (restored by monkeypatch afterwards).
    monkeypatch.setenv("CHAOYUN_WEBHOOK_ALLOW_PRIVATE", "1")
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    _Receiver.redirect_to = ""
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_webhook_delivery_with_retry(db: Any, receiver: str) -> None:
    import hashlib
    import hmac

    org = org_of(db, "factory2")
    device, _ = make_device(db, org)
    hook = Webhook(org_id=org.id, name="ops", url=receiver, secret="s3cret")
    db.add(hook)
    db.commit()
    _rule(db, device, "threshold", "barrel_temp", op=">", value=240)
    _Receiver.fail_first = 1
    _send(db, device, "barrel_temp", [(0, 250)])
    now = datetime.now(UTC)
    assert alarms.deliver_pending(db, now) == (0, 1)  # the receiver answered 500
    d = db.execute(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)).scalar_one()
    assert d.status == "pending" and d.attempts == 1
    assert alarms.deliver_pending(db, now) == (0, 0)  # not due yet (back-off)
    assert alarms.deliver_pending(db, now + timedelta(seconds=11)) == (1, 0)
    [got] = _Receiver.received
    assert got["body"]["event"] == "alarm.raised" and got["body"]["alarm"]["device_uid"] == device.uid
    raw = json.dumps(got["body"], ensure_ascii=False, default=str).encode()
    assert got["sig"] == "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()


def test_webhook_test_button(db: Any, login: Any, receiver: str) -> None:
    client = login("factory")
    assert client.post("/alarms/webhooks", data={"name": "local", "url": receiver}).status_code == 303
    hook = db.execute(select(Webhook).where(Webhook.url == receiver)).scalar_one()
    r = client.post(f"/alarms/webhooks/{hook.id}/test")
    assert r.status_code == 200 and 'id="webhook-test"' in r.text and "alert-success" in r.text
    assert _Receiver.received[-1]["body"]["event"] == "test"
    # A failing receiver: "not delivered", and no status code or error text for the user.
    _Receiver.fail_first = 1
    r = client.post(f"/alarms/webhooks/{hook.id}/test")
    assert r.status_code == 200 and "alert-danger" in r.text and "500" not in r.text and "HTTP" not in r.text


BAD_URLS = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://0.0.0.0/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.100.100.200/latest/meta-data",
    "http://169.254.169.254/latest/meta-data/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/",
    "http://[ff02::1]/",
    "http://[2002:7f00:1::]/",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_webhook_to_an_internal_address_is_refused(db: Any, url: str) -> None:
    from chaoyun.devices.outbound import MSG_ADDRESS, MSG_RESOLVE, resolve
    from chaoyun.errors import Invalid

    assert not alarms.outbound.allow_private()  # the default
    with pytest.raises(Invalid) as exc:
        resolve(url)
    assert exc.value.msgid in (MSG_ADDRESS, MSG_RESOLVE) and exc.value.field == "url"
    m = exc.value.messages()
    assert m["zh"] != m["en"] and m["zh"] and m["en"]


def test_webhook_refusal_on_save_and_at_delivery(db: Any, login: Any, receiver: str, monkeypatch: Any) -> None:
    from chaoyun.devices.outbound import MSG_ADDRESS
    from chaoyun.i18n import both

    monkeypatch.setenv("CHAOYUN_WEBHOOK_ALLOW_PRIVATE", "0")
    client = login("factory")
    r = client.post("/alarms/webhooks", data={"name": "scan", "url": "http://0x7f000001:5432/"})
    assert r.status_code == 422 and both(MSG_ADDRESS)["zh"] in r.text
    assert db.execute(select(Webhook).where(Webhook.name == "scan")).first() is None
    # Saved while allowed (or a name that resolved publicly then, rebinding): refused at delivery time too.
    org = org_of(db, "factory2")
    device, _ = make_device(db, org)
    hook = Webhook(org_id=org.id, name="rebind", url=receiver, secret="s")
    db.add(hook)
    db.commit()
    _rule(db, device, "threshold", "barrel_temp", op=">", value=240)
    _send(db, device, "barrel_temp", [(0, 250)])
    alarms.deliver_pending(db, datetime.now(UTC))
    d = db.execute(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)).scalar_one()
    assert d.attempts == 1 and d.last_error == "not delivered" and not _Receiver.received
    r = client.post("/alarms/webhooks/999999999/test")
    assert r.status_code == 404


def test_webhook_redirects_are_not_followed(db: Any, receiver: str) -> None:
    _Receiver.redirect_to = receiver + "?followed=1"
    assert alarms.post_json(receiver, "s", {"event": "test"}) is False
    assert not _Receiver.received
