"""NATS broker configuration from the registry: subjects of MQTT topics, deny by default, node configs."""

from __future__ import annotations

from pathlib import Path

from chaoyun.devices.connectors import broker, nats_broker, topics
from chaoyun.devices.connectors.log_ingest import _topic


def test_topics_map_to_subjects_and_back() -> None:
    assert nats_broker.topic_to_subject("chaoyun/v1/devices/a-1/telemetry") == "chaoyun.v1.devices.a-1.telemetry"
    assert nats_broker.topic_to_subject("chaoyun/v1/devices/+/telemetry") == "chaoyun.v1.devices.*.telemetry"
    assert nats_broker.topic_to_subject("chaoyun/v1/#") == "chaoyun.v1.>"
    # NATS writes a "." inside an MQTT topic level as "//"
    assert nats_broker.topic_to_subject("chaoyun/v1/devices/m.1/telemetry") == "chaoyun.v1.devices.m//1.telemetry"
    for t in ("chaoyun/v1/devices/m.1/telemetry", topics.command_result("x"), topics.gateway_status("g")):
        assert nats_broker.subject_to_topic(nats_broker.topic_to_subject(t)) == t
        assert _topic(nats_broker.topic_to_subject(t)) == t


def test_users_deny_by_default() -> None:
    accounts = [
        broker.platform_account("platform", ""),
        broker.device_account("d1", "$7$101$abc$def"),  # Mosquitto PBKDF2: NATS cannot check it
        broker.device_account("d2", "$2b$11$" + "x" * 53),  # bcrypt: NATS can
        broker.gateway_account("gw-g1", "", "g1", ["d3"]),
    ]
    cfg = nats_broker.render_users(accounts, platform_user="platform", passwords={"platform": "p", "gw-g1": "g"})
    by = {u["user"]: u for u in cfg.users}
    assert cfg.without_password == ["d1"]  # left out: denied
    assert by["platform"]["permissions"] == {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    d2 = by["d2"]["permissions"]
    assert d2 == {
        "publish": {"allow": ["chaoyun.v1.devices.d2.telemetry", "chaoyun.v1.devices.d2.attributes",
                              "chaoyun.v1.devices.d2.commands.result"]},
        "subscribe": {"allow": ["chaoyun.v1.devices.d2.commands"]},
    }
    gw = by["gw-g1"]["permissions"]
    assert "chaoyun.v1.gateways.g1.status" in gw["publish"]["allow"]  # type: ignore[index]
    assert "chaoyun.v1.devices.d3.telemetry" in gw["publish"]["allow"]  # type: ignore[index]
    assert "chaoyun.v1.gateways.g1.config" in gw["subscribe"]["allow"]  # type: ignore[index]


def test_node_configs(tmp_path: Path) -> None:
    nodes = [nats_broker.Node(f"n{i}", 4000 + i, 5000 + i, 6000 + i, tmp_path / f"n{i}") for i in range(3)]
    paths = nats_broker.write_cluster(tmp_path, nodes, [{"user": "u", "password": "p"}])
    text = paths[0].read_text()
    assert "listen: 127.0.0.1:4000" in text
    assert "routes: [nats-route://127.0.0.1:5001, nats-route://127.0.0.1:5002]" in text
    assert "mqtt { listen: 127.0.0.1:6000, stream_replicas: 3 }" in text
    assert oct(paths[0].stat().st_mode & 0o777) == "0o600"


def test_nats_config_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from chaoyun.cli import app

    out = tmp_path / "nats"
    r = CliRunner().invoke(app, ["nats-config", "--out", str(out), "--platform-password", "pw",
                                 "--node", "n1=127.0.0.1:4301:4401:4501", "--node", "n2=127.0.0.1:4302:4402:4502",
                                 "--node", "n3=127.0.0.1:4303:4403:4503"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["n1.conf", "n2.conf", "n3.conf"]
    text = (out / "n2.conf").read_text()
    assert "nats-route://127.0.0.1:4401" in text and "mqtt { listen: 127.0.0.1:4502" in text
    assert '"user": "chaoyun-platform"' in text
    r = CliRunner().invoke(app, ["nats-config", "--out", str(out), "--platform-password", "pw", "--node", "bad"])
    assert r.exit_code != 0
