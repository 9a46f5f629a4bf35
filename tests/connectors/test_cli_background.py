"""`chaoyun broker-config` writes the three files; the server's background jobs include the ingest worker,
the command janitor and the devices core's periodic tasks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaoyun.cli import app


def test_broker_config_command(tmp_path: Path) -> None:
    out = tmp_path / "mosq"
    r = CliRunner().invoke(app, ["broker-config", "--out", str(out), "--port", "18830", "--platform-password", "pw"])
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} >= {"passwd", "acl", "mosquitto.conf"}
    assert "listener 18830 127.0.0.1" in (out / "mosquitto.conf").read_text()


def test_background_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    from chaoyun.devices import background

    names = {j.__name__ for j in background.tasks()}
    assert {"mqtt_ingest", "command_janitor"} <= names
    monkeypatch.setenv("CHAOYUN_MQTT_INGEST", "0")
    monkeypatch.setenv("CHAOYUN_MQTT_COMMANDS", "0")
    assert not {"mqtt_ingest", "command_janitor"} & {j.__name__ for j in background.tasks()}


def test_gateway_command_reports_config_errors(tmp_path: Path) -> None:
    f = tmp_path / "gw.yaml"
    f.write_text("gateway: {}\n")
    r = CliRunner().invoke(app, ["gateway", "--config", str(f)])
    assert r.exit_code == 2 and "gateway.uid" in r.output
