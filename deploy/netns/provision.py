"""Provision the network-namespace deployment (called by up.sh): register an enterprise and N devices in the
deployment's database (clear MQTT passwords and HTTP tokens kept in STATE/devices.json, 0600, for the benchmark
and the test), and write the three NATS nodes' configs (users and ACLs from the registry, deny by default).

Usage: provision.py STATE_DIR N_DEVICES PLATFORM_PASSWORD NODE_IP1,NODE_IP2,NODE_IP3
(CHAOYUN_DATABASE_URL names the deployment's PostgreSQL.)"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

from sqlalchemy import select


def main() -> None:
    state, n, platform_pw, ips = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")
    from chaoyun.db import get_sessionmaker
    from chaoyun.devices import service
    from chaoyun.devices.connectors import broker, nats_broker
    from chaoyun.devices.credentials import mosquitto_hash, new_mqtt_password, token_hash
    from chaoyun.devices.models import Device, DeviceModel
    from chaoyun.identity.models import Organisation

    with get_sessionmaker()() as db:
        service.ensure_catalog(db)
        model = db.execute(select(DeviceModel).where(DeviceModel.key == "energy_meter")).scalar_one()
        org = Organisation(kind="enterprise", name="netns 演示企业 / netns demo enterprise", district="jinping")
        db.add(org)
        db.flush()
        devices = []
        for i in range(n):
            pw, tok = new_mqtt_password(), secrets.token_urlsafe(24)
            uid = f"ns-{i:05d}-{secrets.token_hex(3)}"
            d = Device(org_id=org.id, model_id=model.id, uid=uid, name=f"netns meter {i}",
                       token_hash=token_hash(tok), mqtt_password_hash=mosquitto_hash(pw))
            db.add(d)
            devices.append((d, pw, tok))
        db.commit()
        out = [{"id": d.id, "uid": d.uid, "password": pw, "token": tok} for d, pw, tok in devices]
        accounts = broker.collect_accounts(db, platform_password=platform_pw)
    accounts.append(broker.platform_account("platform", ""))
    passwords = {o["uid"]: o["password"] for o in out} | {"platform": platform_pw}
    cfg = nats_broker.render_users(accounts, platform_user="platform", passwords=passwords)
    nodes = [nats_broker.Node(f"n{i + 1}", 4222, 6222, 1883, state / f"nats{i + 1}" / "js", host=ip)
             for i, ip in enumerate(ips)]
    nats_broker.write_cluster(state / "nats", nodes, cfg.users)
    path = state / "devices.json"
    path.write_text(json.dumps({"org_id": org.id, "devices": out}, indent=1))
    path.chmod(0o600)
    print(f"provisioned {len(out)} devices (org {org.id})")


if __name__ == "__main__":
    main()
