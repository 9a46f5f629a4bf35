"""Inputs that reached the database or a parser unchecked and answered 500 (found by fuzzing the API): integers
beyond 64 bits, NUL characters, explicit nulls in PATCH bodies, a bare carriage return in a CSV upload, deeply
nested or huge-integer telemetry, an empty telemetry message. Each must be a clear bilingual 4xx, nothing stored."""

from __future__ import annotations

import json
import uuid
from typing import Any, get_args

import annotated_types as at
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices import ingest
from chaoyun.devices.models import Device, RejectedMessage
from chaoyun.web.app import create_app, flat_routes
from chaoyun.web.guards import _has_nul
from chaoyun.web.params import INT32_MAX, INT32_MIN
from tests.devices.helpers import make_device, org_of

HUGE = "99999999999999999999"  # > 2**63


def _bilingual_4xx(r: Any, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] and err["message_zh"] and err["message_en"], err
    return dict(err)


# ---------------------------------------------------------------- integers beyond 64 bits


def _bounded(metadata: list[Any]) -> bool:
    lo = next((m.ge for m in metadata if isinstance(m, at.Ge)), None)
    hi = next((m.le for m in metadata if isinstance(m, at.Le)), None)
    return lo is not None and hi is not None and lo >= INT32_MIN and hi <= INT32_MAX


def _is_int(tp: Any) -> bool:
    return tp is int or any(a is int for a in get_args(tp))


def _unbounded_items(tp: Any) -> bool:
    """``list[int]`` (or ``list[int] | None``) whose items carry no 64-bit bound."""
    for a in (tp, *get_args(tp)):
        if getattr(a, "__origin__", None) in (list, set, tuple):
            for item in get_args(a):
                if item is int:
                    return True
                if getattr(item, "__origin__", None) is not None and get_args(item)[:1] == (int,):
                    meta = [m for x in getattr(item, "__metadata__", ()) for m in [x, *getattr(x, "metadata", [])]]
                    return not _bounded(meta)
    return False


def _unbounded_fields(model: type[BaseModel], prefix: str, seen: set[type]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    out = []
    for name, f in model.model_fields.items():
        if (_is_int(f.annotation) and not _bounded(f.metadata)) or _unbounded_items(f.annotation):
            out.append(f"{prefix}.{name}")
        for a in (f.annotation, *get_args(f.annotation)):
            for b in (a, *get_args(a)):
                if isinstance(b, type) and issubclass(b, BaseModel):
                    out += _unbounded_fields(b, f"{prefix}.{name}", seen)
    return out


def test_every_integer_a_route_reads_is_bounded_to_the_integer_column(app: Any) -> None:
    """Path, query, form and body integers: use ``chaoyun.web.params.DbId`` / ``Year`` or ``ge=``/``le=``, within
    an INTEGER column (32-bit on PostgreSQL: 2**63 − 1 passed a 64-bit bound and still failed there)."""
    bad = []
    for route in flat_routes(app.routes):
        if not isinstance(route, APIRoute):
            continue
        d = route.dependant
        for p in d.path_params + d.query_params + d.body_params:
            info = p.field_info
            if _is_int(info.annotation) and not _bounded(info.metadata):
                bad.append(f"{route.path} {p.name}")
            for a in (info.annotation, *get_args(info.annotation)):
                if isinstance(a, type) and issubclass(a, BaseModel):
                    bad += [f"{route.path} {f}" for f in _unbounded_fields(a, p.name, set())]
    assert not bad, "integers without a 32-bit bound (see chaoyun/web/params.py):\n" + "\n".join(sorted(set(bad)))


def test_huge_ids_and_years_are_refused_not_a_server_error(app: Any, login: Any) -> None:
    anon = TestClient(app)
    r = anon.get(f"/market/offerings/{HUGE}")
    assert r.status_code == 422 and "Traceback" not in r.text
    _bilingual_4xx(login("factory").get(f"/api/v1/devices/{HUGE}"))
    _bilingual_4xx(login("city").get(f"/api/v1/market/pool-counts?year={HUGE}"))
    _bilingual_4xx(login("city").get(f"/api/v1/organisations/{HUGE}"))
    # Just past an INTEGER column on PostgreSQL (the fuzz found DELETE /api/v1/tokens/2**63 - 2 failing there).
    _bilingual_4xx(login("city").request("DELETE", f"/api/v1/tokens/{2**31}"))
    _bilingual_4xx(login("factory").get(f"/api/v1/devices/{2**63 - 2}"))
    assert login("factory").get(f"/api/v1/devices/{INT32_MAX}").status_code == 404  # in range: simply not there
    # Query parameters a page parses itself fall back to a sane value.
    assert login("city").get(f"/gov/provincial?year={HUGE}").status_code == 200
    assert login("city").get(f"/gov/enterprises?page={HUGE}").status_code == 200


# ---------------------------------------------------------------- NUL characters


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "\\", "u", "0", "\x00", '"', "\n", "é"]), max_size=24))
def test_nul_guard_sees_exactly_the_json_strings_with_nul(s: str) -> None:
    body = json.dumps({"k": s}).encode()
    assert _has_nul(body, "application/json") == ("\x00" in s)


def test_nul_in_search_query_path_and_body_is_refused(app: Any, login: Any, db: Session) -> None:
    anon = TestClient(app)
    err = _bilingual_4xx(anon.get("/api/v1/market/offerings?q=abc%00def"))
    assert err["code"] == "invalid"
    assert anon.get("/market?q=abc%00def").status_code == 422
    factory = login("factory")
    device, _token = make_device(db, org_of(db, "factory"))
    r = factory.request("PATCH", f"/api/v1/devices/{device.id}", json={"name": "注塑\u0000机"})
    _bilingual_4xx(r)
    db.expire_all()
    assert "\x00" not in db.get(Device, device.id).name  # type: ignore[union-attr]
    # An escaped backslash followed by "u0000" is ordinary text.
    r = factory.request("PATCH", f"/api/v1/devices/{device.id}", json={"serial": "a\\u0000b"})
    assert r.status_code == 200, r.text
    r = factory.post("/devices/new", data={"name": "a\x00b"})
    assert r.status_code == 422


# ---------------------------------------------------------------- explicit null in PATCH bodies


def test_patch_refuses_null_for_fields_that_cannot_be_empty(login: Any, db: Session) -> None:
    factory = login("factory")
    r = factory.post(
        "/api/v1/apps/quality/plans",
        json={"name": "外径", "characteristic": "外径", "chart_type": "xbar_r", "subgroup_size": 3},
    )
    assert r.status_code in (200, 201), r.text
    plan_id = r.json()["id"]
    for field in ("limits_mode", "tests"):
        err = _bilingual_4xx(factory.request("PATCH", f"/api/v1/apps/quality/plans/{plan_id}", json={field: None}))
        assert err["fields"][0]["field"] == field
    # The plan was not changed: its page still renders.
    assert factory.get(f"/apps/quality/plans/{plan_id}").status_code == 200
    # Spec limits may be cleared.
    assert factory.request("PATCH", f"/api/v1/apps/quality/plans/{plan_id}", json={"lsl": None}).status_code == 200
    device, _token = make_device(db, org_of(db, "factory"))
    _bilingual_4xx(factory.request("PATCH", f"/api/v1/devices/{device.id}", json={"name": None}))
    r = factory.post("/api/v1/production/items", json={"code": f"N{uuid.uuid4().hex[:8]}", "name": "齿轮"})
    assert r.status_code == 201, r.text
    item_url = f"/api/v1/production/items/{r.json()['id']}"
    _bilingual_4xx(factory.request("PATCH", item_url, json={"name": None}))
    assert factory.get(item_url).json()["name"] == "齿轮"


# ---------------------------------------------------------------- CSV with a bare carriage return


def test_provisioning_csv_with_bare_carriage_returns(login: Any) -> None:
    k = uuid.uuid4().hex[:6]
    sheet = f"name,model,workshop\rCR{k}a,injection_moulding,注塑车间\rCR{k}b,injection_moulding,注塑车间\r"
    r = login("factory").post("/api/v1/devices/provision", files={"file": ("p.csv", sheet.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2, r.text
    r = login("factory").post(
        "/api/v1/devices/provision", files={"file": ("p.csv", b"name,model\r\nA\x00,injection_moulding\n", "text/csv")}
    )
    _bilingual_4xx(r)


def test_csv_readers_take_any_line_ending_and_refuse_nul() -> None:
    from chaoyun.errors import Invalid
    from chaoyun.production.imports import table_rows

    assert table_rows("w.csv", b"code,name\rA1,gear\r") == [["code", "name"], ["A1", "gear"]]
    with pytest.raises(Invalid):
        table_rows("w.csv", b"code,name\nA\x001,gear\n")


# ---------------------------------------------------------------- telemetry ingest


def _post(app: Any, token: str, body: bytes) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return TestClient(app).post("/api/v1/telemetry", content=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{}", "empty"),
        (b"[]", "empty"),
        (b'{"values": {}}', "empty"),
        (b"[" * 1000 + b"]" * 1000, "too_deep"),
        (b'{"a":' * 1000 + b"1" + b"}" * 1000, "too_deep"),
        (b'{"barrel_temp": ' + b"9" * 309 + b"}", "int_range"),
        (b'{"barrel_temp": NaN, "good_count": ' + b"9" * 20 + b"}", "int_range"),
    ],
)
def test_ingest_refuses_empty_deep_and_huge_messages(app: Any, db: Session, body: bytes, code: str) -> None:
    device, token = make_device(db, org_of(db, "factory"))
    r = _post(app, token, body)
    assert r.status_code == 422, r.text
    rejected = r.json()["rejected"][0]
    assert rejected["code"] == code and rejected["message_zh"] and rejected["message_en"]
    db.expire_all()
    logged = db.execute(select(RejectedMessage.code).where(RejectedMessage.device_id == device.id)).scalars()
    assert list(logged) == [code]


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=64)
    | st.recursive(st.integers() | st.text(max_size=4), lambda c: st.lists(c, max_size=3)).map(
        lambda v: json.dumps(v).encode()
    )
)
def test_parse_payload_only_ever_refuses_with_a_code(raw: bytes) -> None:
    """MQTT payloads go through the same parser: any bytes either parse or raise PayloadError (known code)."""
    try:
        ingest.parse_payload(raw)
    except ingest.PayloadError as exc:
        assert exc.code in ingest.MESSAGES


def test_mqtt_poison_messages_are_logged_and_the_batch_is_stored(db: Session) -> None:
    """A sink that raises makes the MQTT worker retry the whole batch: one deep, NUL or huge-integer message
    must be refused on its own (logged), and the valid messages of the batch stored."""
    from datetime import UTC, datetime

    from chaoyun.devices.connectors import topics
    from chaoyun.devices.connectors.mqtt_ingest import RawMessage
    from chaoyun.devices.connectors.sink import PlatformSink
    from chaoyun.devices.store import get_store

    device, _token = make_device(db, org_of(db, "factory"))
    now = datetime.now(UTC)
    bad = [
        b"[" * 1000 + b"]" * 1000,
        b'{"barrel_temp": 1, "note": "a\\u0000b"}',
        b'{"barrel_temp": ' + b"9" * 309 + b"}",
    ]
    batch = [RawMessage(topics.telemetry(device.uid), raw, now) for raw in bad]
    batch.append(RawMessage(topics.attributes(device.uid), b'{"firmware": "1.0\\u0000"}', now))
    batch.append(RawMessage(topics.telemetry(device.uid), b'{"barrel_temp": 221.5}', now))
    sink = PlatformSink()
    sink(batch)
    assert get_store().count(device.id) == 1
    assert sink.malformed == 4  # the three telemetry messages and the attributes with NUL
    db.expire_all()
    logged = db.execute(select(RejectedMessage.code).where(RejectedMessage.device_id == device.id)).scalars()
    assert sorted(logged) == ["int_range", "nul_text", "nul_text", "too_deep"]


def test_text_metric_with_nul_is_rejected_point_by_point() -> None:
    spec = {"note": (1, ingest.STR, 0.0, 0.0)}
    rows, rejected, n = ingest.validate(1, spec, {"note": "a\x00b"}, 1_700_000_000_000)  # type: ignore[arg-type]
    assert rows == [] and n == 1 and rejected[0].code == "nul_text"


# ---------------------------------------------------------------- unexpected errors


def test_unexpected_error_answers_json_500_with_a_request_id_and_no_trace() -> None:
    app = create_app()

    @app.get("/api/v1/_boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    @app.get("/_boom")
    def boom_page() -> None:
        raise RuntimeError("secret detail")

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/api/v1/_boom")
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["code"] == "server_error" and err["request_id"] == r.headers["x-request-id"]
    assert err["request_id"] in err["message_en"] and err["message_zh"]
    page = client.get("/_boom")
    assert page.status_code == 500 and page.headers["x-request-id"] in page.text
    for text in (r.text, page.text):
        assert "secret detail" not in text and "Traceback" not in text
