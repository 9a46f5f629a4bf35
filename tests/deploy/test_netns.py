"""The multi-host deployment in network namespaces (deploy/netns/up.sh, down.sh) with a tiny configuration: points
posted through the haproxy balancer (HTTP) and over MQTT to each NATS node are stored in the deployment's
PostgreSQL; down.sh leaves no namespace, bridge, process or state folder behind. Needs root and `ip netns`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NET = "10.77.0"


def _why_skip() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, bridge): run the test as root"
    if not shutil.which("ip") or subprocess.run(["ip", "netns", "list"], capture_output=True).returncode:
        return "`ip netns` (iproute2) unavailable"
    for tool in ("/usr/sbin/nats-server",):
        if not Path(tool).exists():
            return f"{tool} not installed"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "PostgreSQL server binaries (initdb) not installed"
    return None


pytestmark = pytest.mark.skipif(_why_skip() is not None, reason=_why_skip() or "")

CHECK = """
import json, sys
from datetime import UTC, datetime
from chaoyun.devices.store import get_store
want = json.loads(sys.argv[1])
s = get_store()
out = {}
for dev_id, ts in want.items():
    got = {int(t.timestamp() * 1000) for t, _v, _x in s.raw(int(dev_id), "voltage",
           datetime.fromtimestamp(min(ts) / 1000 - 1, UTC), datetime.fromtimestamp(max(ts) / 1000 + 1, UTC))}
    out[dev_id] = sorted(set(ts) - got)
print(json.dumps(out))
"""


def _missing(state: Path, want: dict[int, list[int]]) -> dict[str, list[int]]:
    env = dict(os.environ, CHAOYUN_DATABASE_URL=f"postgresql+psycopg://postgres@{NET}.10:5432/chaoyun",
               CHAOYUN_NETNS_STATE=str(state))
    r = subprocess.run([sys.executable, "-c", CHECK, json.dumps(want)], env=env, capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_up_ingest_and_down() -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    # not under pytest's tmp_path: its parents are 0700 and PostgreSQL runs as the postgres user
    state = Path(tempfile.mkdtemp(prefix="chaoyun-netns-test-", dir="/var/tmp"))
    env = dict(os.environ, CHAOYUN_NETNS_STATE=str(state), CHAOYUN_NETNS_DEVICES="4")
    env.pop("CHAOYUN_DATABASE_URL", None)
    try:
        up = subprocess.run([str(ROOT / "deploy/netns/up.sh")], env=env, capture_output=True, text=True,
                            timeout=240)
        assert up.returncode == 0, up.stdout + up.stderr
        devs = json.loads((state / "devices.json").read_text())["devices"]
        base = int(time.time() * 1000) - 60_000
        want: dict[int, list[int]] = {}
        # HTTP through the balancer: device 0, five points (requests spread over both web hosts)
        d0 = devs[0]
        for j in range(5):
            body = json.dumps({"ts": base + j, "values": {"voltage": 220.0 + j}}).encode()
            req = urllib.request.Request(f"http://{NET}.50/api/v1/telemetry", data=body, method="POST",
                                         headers={"Authorization": f"Bearer {d0['token']}",
                                                  "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                assert json.loads(r.read())["accepted"] == 1
            want.setdefault(d0["id"], []).append(base + j)
        with urllib.request.urlopen(f"http://{NET}.50/login", timeout=30) as r:
            assert r.status == 200
        # MQTT QoS 1: devices 1..3, one per broker node
        clients = []
        for k, d in enumerate(devs[1:4]):
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=d["uid"], protocol=mqtt.MQTTv311)
            c.username_pw_set(d["uid"], d["password"])
            c.connect(f"{NET}.2{k + 1}", 1883, keepalive=10)
            c.loop_start()
            clients.append(c)
            infos = []
            for j in range(5):
                body = json.dumps({"ts": base + 100 + j, "values": {"voltage": 230.0}})
                infos.append(c.publish(f"chaoyun/v1/devices/{d['uid']}/telemetry", body, qos=1))
                want.setdefault(d["id"], []).append(base + 100 + j)
            for info in infos:
                info.wait_for_publish(timeout=30)
                assert info.is_published()
        deadline = time.monotonic() + 60
        while (miss := _missing(state, want)) and any(miss.values()) and time.monotonic() < deadline:
            time.sleep(1)
        assert not any(miss.values()), f"acknowledged points not stored: {miss}"
        for c in clients:
            c.disconnect()
            c.loop_stop()
    finally:
        down = subprocess.run([str(ROOT / "deploy/netns/down.sh")], env=env, capture_output=True, text=True,
                              timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not [ln for ln in left.splitlines() if ln.startswith("cy-")], left
    assert subprocess.run(["ip", "link", "show", "cy-br0"], capture_output=True).returncode != 0
    assert not state.exists()
    shutil.rmtree(state, ignore_errors=True)
