"""Identifiers: prefixes, templates, registration (one, bulk, automatic per lot), resolution, integrity, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.identity.models import AuditEntry
from chaoyun.trace import service
from chaoyun.trace.models import Identifier
from tests.production.helpers import actor
from tests.trace.helpers import lot, toy_firm

BASE = "https://trace.example"


def _audits(db: Session, object_type: str) -> int:
    return int(db.execute(select(func.count()).where(AuditEntry.object_type == object_type)).scalar_one())


def test_prefix_is_allocated_under_the_national_prefix_with_default_templates(db: Session) -> None:
    f = toy_firm(db)
    p = service.ensure_prefix(db, f.admin, f.org.id)
    db.commit()
    assert p.prefix == f"{service.national_prefix()}.{10000 + f.org.id}"
    codes = {t.code for t in service.list_templates(db, f.admin)}
    assert {"META_batch", "META_model", "META_item", "META_device", "META_material"} <= codes
    assert service.ensure_prefix(db, f.admin, f.org.id).id == p.id


def test_register_one_and_resolve_public_and_private_values(db: Session) -> None:
    f = toy_firm(db)
    other = toy_firm(db, "别家厂")
    before = _audits(db, "trace_identifier")
    i = service.register(
        db, f.admin, "META_model", {"model_code": "CAR-01", "product_name": "回力车", "bom_version": "v3"}
    )
    assert _audits(db, "trace_identifier") == before + 1
    _, suffix = service.parse_handle(i.handle)
    assert len(suffix) == 16  # random, 80 bits: nothing to enumerate
    public = service.resolve(db, None, i.handle, BASE)
    assert public["responseCode"] == 1 and public["handle"] == i.handle
    types = {v["type"]: v for v in public["values"]}
    assert types["URL"]["data"]["value"] == f"{BASE}/t/{i.handle}"
    assert types["model_code"]["index"] == 2001 and types["model_code"]["data"] == {
        "format": "string",
        "value": "CAR-01",
    }
    assert "bom_version" not in types  # not public
    assert types["RECORD_HMAC_SHA256"]["data"]["value"] == i.record_mac
    # The owner sees everything; another enterprise asking for it gets 403, then 200 once authorised.
    assert "bom_version" in {v["type"] for v in service.resolve(db, f.admin, i.handle, BASE)["values"]}
    with pytest.raises(Forbidden):
        service.resolve(db, other.admin, i.handle, BASE, full=True)
    with pytest.raises(Forbidden):
        service.resolve(db, None, i.handle, BASE, types=["bom_version"])
    other.org.credit_code = f"9144{other.org.id:014d}"
    db.commit()
    service.add_grant(db, f.admin, other.org.credit_code)
    full = service.resolve(db, other.admin, i.handle, BASE, full=True)
    assert "bom_version" in {v["type"] for v in full["values"]}


def test_malformed_foreign_and_duplicate_identifiers_are_refused_bilingually(db: Session) -> None:
    f = toy_firm(db)
    service.ensure_prefix(db, f.admin, f.org.id)
    for bad in ("88.754", "no-slash", "88.x.1/abc", "88.754.1/", "88.754.1/a b", "/abc"):
        with pytest.raises(Invalid) as exc:
            service.parse_handle(bad)
        m = exc.value.messages()
        assert "不是有效的标识" in m["zh"] and "is not a valid identifier" in m["en"]
    with pytest.raises(Invalid) as exc:
        service.register(db, f.admin, "META_model", {"model_code": "X", "product_name": "Y"}, suffix="88.754.99999/X1")
    assert exc.value.field == "suffix" and "88.754.99999" in exc.value.messages()["en"]
    assert "不是贵企业的前缀" in exc.value.messages()["zh"]
    db.rollback()
    service.register(db, f.admin, "META_model", {"model_code": "X", "product_name": "Y"}, suffix="CAR-01")
    with pytest.raises(Conflict):
        service.register(db, f.admin, "META_model", {"model_code": "X", "product_name": "Y"}, suffix="CAR-01")
    db.rollback()
    with pytest.raises(Invalid) as exc:
        service.register(db, f.admin, "META_batch", {"product_code": "CAR", "lot_number": "L1", "inspection": "maybe"})
    assert exc.value.field == "attrs.inspection"
    db.rollback()
    with pytest.raises(Invalid) as exc:
        service.register(db, f.admin, "META_model", {"model_code": "X"})
    assert exc.value.field == "attrs.product_name"
    db.rollback()


def test_bulk_keeps_good_rows_and_reports_bad_ones_by_row(db: Session) -> None:
    f = toy_firm(db)
    p = service.ensure_prefix(db, f.admin, f.org.id)
    db.commit()
    rows = [
        {"template": "META_item", "attrs": {"serial": "S1", "produced_on": "2026-11-30"}},
        {"template": "META_item", "attrs": {"serial": "S2", "produced_on": "30.11.2026"}},  # bad date
        {"template": "META_nope", "attrs": {"serial": "S3"}},  # unknown template
        {"template": "META_item", "suffix": "88.1.2/S4", "attrs": {"serial": "S4"}},  # foreign prefix
        {"template": "META_item", "suffix": "S5", "attrs": {"serial": "S5", "batch": f"{p.prefix}/LOT1"}},
        {"template": "META_item", "suffix": "S5", "attrs": {"serial": "S5b"}},  # same handle twice
        {"template": "META_item", "attrs": {"serial": "S7", "batch": "not a handle"}},
    ]
    report = service.register_many(db, f.admin, rows)
    assert len(report.created) == 2
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "attrs.produced_on"),
        (3, "template"),
        (4, "suffix"),
        (6, "suffix"),
        (7, "attrs.batch"),
    ]
    assert all(e.message_zh and e.message_en for e in report.errors)
    n = db.execute(select(func.count()).where(Identifier.org_id == f.org.id)).scalar_one()
    assert n == 2
    entry = (
        db.execute(
            select(AuditEntry)
            .where(AuditEntry.object_type == "trace_identifier", AuditEntry.action == "import")
            .order_by(AuditEntry.id.desc())
        )
        .scalars()
        .first()
    )
    assert entry is not None and entry.after["created"] == 2 and entry.after["rejected"] == 5


def test_a_tampered_record_is_detected_and_not_served(db: Session) -> None:
    f = toy_firm(db)
    i = service.register(db, f.admin, "META_model", {"model_code": "CAR-01", "product_name": "回力车"})
    assert service.intact(i)
    # Someone with database access changes the record behind the platform's back.
    db.execute(
        text("UPDATE trace_identifiers SET attrs = :a WHERE id = :id"),
        {"a": '{"model_code": "CAR-01", "product_name": "假冒回力车"}', "id": i.id},
    )
    db.commit()
    db.expire_all()
    with pytest.raises(service.RecordTampered) as exc:
        service.resolve(db, None, i.handle, BASE)
    assert "完整性" in exc.value.messages()["zh"]
    checked, bad = service.verify_all(db)
    assert i.handle in bad and checked >= 1
    # An honest update through the platform re-signs the record (and is audited).
    db.execute(
        text("UPDATE trace_identifiers SET attrs = :a WHERE id = :id"),
        {"a": '{"model_code": "CAR-01", "product_name": "回力车"}', "id": i.id},
    )
    db.commit()
    db.expire_all()
    updated = service.update_attrs(db, f.admin, i.id, {"standard": "GB 6675-2014"})
    assert updated.version == 2 and service.intact(updated)
    assert service.resolve(db, None, i.handle, BASE)["responseCode"] == 1


def test_absent_and_withdrawn_answer_the_same_404(db: Session) -> None:
    f = toy_firm(db)
    i = service.register(db, f.admin, "META_model", {"model_code": "W", "product_name": "W"})
    i.status = "withdrawn"
    i.record_mac = service.record_mac(i.handle, i.org_id, i.template_id, i.attrs, "withdrawn", i.version)
    db.commit()
    with pytest.raises(NotFound) as a:
        service.resolve(db, None, i.handle, BASE)
    with pytest.raises(NotFound) as b:
        service.resolve(db, None, i.handle[:-1] + ("0" if i.handle[-1] != "0" else "1"), BASE)
    assert a.value.messages() == b.value.messages()


def test_a_produced_lot_gets_its_identifier_automatically(db: Session) -> None:
    f = toy_firm(db)
    lt = lot(db, f, "CAR-L1", [("ABS-M", "ABS-2026-11")])
    i = service.identifier_of_lot(db, lt.id)
    assert i is not None and i.template.code == "META_batch"
    assert i.attrs["lot_number"] == "CAR-L1" and i.attrs["product_code"] == "CAR"
    assert i.attrs["machine"] == f.im1.name and "ABS-2026-11" in i.attrs["materials"]
    pub = {v["type"] for v in service.resolve(db, None, i.handle, BASE)["values"]}
    assert "lot_number" in pub and "work_order" not in pub and "quantity" not in pub


def test_template_rules(db: Session) -> None:
    f = toy_firm(db)
    member = actor(db, f.org, "enterprise_member")
    t = service.create_template(
        db,
        f.admin,
        "META_cert",
        "检测报告",
        "batch",
        [
            service.ItemSpec("report_no", "Report", "报告编号", "text", required=True, public=True),
            service.ItemSpec("result", "Result", "结论", "enum", ["pass", "fail"], public=True),
        ],
    )
    assert [i.idx for i in t.items] == [2001, 2002]
    with pytest.raises(Conflict):
        service.create_template(db, f.admin, "META_cert", "x", "batch", [service.ItemSpec("a", "a", "a", "text")])
    db.rollback()
    with pytest.raises(Invalid):
        service.create_template(db, f.admin, "X2", "x", "batch", [service.ItemSpec("a", "a", "a", "enum")])
    db.rollback()
    assert member.org_id == f.org.id


def test_a_large_import_takes_the_bulk_path_and_records_verify(db: Session) -> None:
    """Over 100 rows PostgreSQL loads them with COPY (SQLite with multi-row inserts): same records, same MACs."""
    f = toy_firm(db)
    rows: list[dict[str, object]] = [
        {"template": "META_item", "attrs": {"serial": f"大批量-{i}\t", "produced_on": "2026-12-01"}} for i in range(150)
    ]
    rows[42] = {"template": "META_item", "attrs": {"serial": "x", "produced_on": "bad"}}
    report = service.register_many(db, f.admin, rows)
    assert len(report.created) == 149 and [e.row for e in report.errors] == [43]
    checked, bad = service.verify_all(db)
    assert not bad and checked >= 149
    first = service.resolve(db, None, report.created[0], BASE)
    assert {v["type"]: v["data"]["value"] for v in first["values"]}["serial"] == "大批量-0"
