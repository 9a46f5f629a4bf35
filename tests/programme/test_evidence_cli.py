"""Platform evidence helpers, pre-fill without device data, and the pack CLI."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chaoyun.cli import app
from chaoyun.programme import evidence
from chaoyun.programme.models import Diagnosis
from tests.programme.helpers import actor


def test_collection_areas_from_reporting_devices() -> None:
    assert evidence.collection_areas(evidence.OrgEvidence()) == []
    ev = evidence.OrgEvidence(devices_available=True, devices_reporting=2, metrics={"energy_kwh", "defect_count"})
    assert evidence.collection_areas(ev) == ["energy", "equipment", "production", "quality"]
    ev.devices_reporting = 0
    assert evidence.collection_areas(ev) == []


def test_prefill_marks_only_what_records_show(db: Session) -> None:
    org_id = actor(db, "factory2").org_id
    d = Diagnosis(org_id=org_id, questionnaire="sme-digital-level-2024", status="draft", answers={}, evidenced={})
    db.add(d)
    db.flush()
    from chaoyun.programme import diagnosis

    filled = diagnosis.prefill(db, d)
    ev = evidence.for_org(db, org_id)
    if not ev.devices_available or ev.devices_total == 0:
        # No device on record: nothing may be claimed as evidenced.
        assert "digitised_devices" not in filled and "digitised_devices" not in d.evidenced
    else:
        assert d.answers["evidence"]["digitised_devices"] == ev.devices_total
    db.rollback()


def test_check_pack_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["check-pack"])
    assert ok.exit_code == 0 and "cloud_adoption" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: x\nperiod: {start: 2020, end: 2018}\n", encoding="utf-8")
    res = runner.invoke(app, ["check-pack", str(bad)])
    assert res.exit_code == 1


def test_spending_grouping_is_exact() -> None:
    from decimal import Decimal

    from chaoyun.programme.reports import SpendingRow, _by

    rows = [
        SpendingRow("vouchers", 2019, "chenghai", "toys", 2, Decimal("100000.10")),
        SpendingRow("vouchers", 2019, "chenghai", "food", 1, Decimal("0.20")),
        SpendingRow("vouchers", 2020, None, "toys", 1, Decimal("5")),
    ]
    assert _by(rows, "district") == [("未知", 1, Decimal("5")), ("澄海区", 3, Decimal("100000.30"))]
    assert _by(rows, "year") == [("2019", 3, Decimal("100000.30")), ("2020", 1, Decimal("5"))]
