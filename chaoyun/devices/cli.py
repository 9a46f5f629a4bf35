"""Commands of the devices context: ``chaoyun ingest-worker | broker-config | gateway``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    app.command("ingest-worker")(ingest_worker)
    app.command("broker-config")(broker_config)
    app.command("nats-config")(nats_config)
    app.command("gateway")(gateway)


def ingest_worker(
    client_id: str = typer.Option(None, help="MQTT client id (unique per worker; default CHAOYUN_MQTT_CLIENT_ID)."),
    batch: int = typer.Option(None, help="Messages per database transaction (default CHAOYUN_MQTT_BATCH)."),
    stats_file: Path = typer.Option(None, help="Write the worker's counters (JSON) to this file every second."),
    source: str = typer.Option("mqtt", help="mqtt: the MQTT broker of CHAOYUN_MQTT_URL (Mosquitto); nats: the "
                                            "JetStream stream behind a NATS cluster's MQTT listeners."),
    nats_url: str = typer.Option("nats://127.0.0.1:4222", help="--source nats: the cluster's client URLs, "
                                                               "comma-separated (nats://user:pass@host:4222,...)."),
    durable: str = typer.Option("chaoyun-ingest", help="--source nats: the durable consumer the workers share."),
    setup_only: bool = typer.Option(False, help="--source nats: create the durable consumer and exit."),
    ack_wait: float = typer.Option(30.0, help="--source nats: seconds before a message fetched by a worker that "
                                              "did not acknowledge it (crashed) goes to another (set at creation)."),
) -> None:
    """Standalone ingest worker; run several (distinct --client-id) to share the load."""
    import asyncio
    import logging
    import signal

    from chaoyun.devices.connectors.mqtt_ingest import IngestWorker
    from chaoyun.devices.connectors.sink import PlatformSink

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker: Any
    if source == "nats":
        from chaoyun.devices.connectors.config import mqtt_settings
        from chaoyun.devices.connectors.log_ingest import LogIngestWorker

        worker = LogIngestWorker(
            PlatformSink(), [u.strip() for u in nats_url.split(",") if u.strip()], durable=durable,
            mqtt_address=mqtt_settings().broker, batch_max=batch or 2000, ack_wait_s=ack_wait,
            name=client_id or "chaoyun-ingest",
        )
        if setup_only:
            asyncio.run(_setup_consumer(worker))
            typer.echo(f"consumer {durable} ready")
            return
    elif source == "mqtt":
        worker = IngestWorker(PlatformSink(), client_id=client_id, batch_max=batch)
    else:
        raise typer.BadParameter("--source is mqtt or nats")

    async def write_stats() -> None:
        import json

        assert stats_file is not None
        while True:
            await asyncio.sleep(1)
            tmp = stats_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(worker.stats.as_dict() | worker.flow_state()))
            tmp.replace(stats_file)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        stats = asyncio.create_task(write_stats()) if stats_file else None
        await worker.run()
        if stats:
            stats.cancel()

    # What every batch uses is loaded before the collector is tuned (chaoyun/runtime.py).
    from chaoyun.devices import alarms, ingest  # noqa: F401
    from chaoyun.devices.connectors import commands  # noqa: F401
    from chaoyun.hooks import install_all
    from chaoyun.runtime import tune_gc

    install_all()  # alarms raised here reach maintenance and scheduling (as jobs for the runner's workers)
    tune_gc()
    asyncio.run(main())


async def _setup_consumer(worker: Any) -> None:
    nc = await worker._connect()
    try:
        await worker.ensure_consumer(nc.jetstream(timeout=5))
    finally:
        await nc.close()


def broker_config(
    out: Path = typer.Option(..., help="Folder for passwd, acl and mosquitto.conf."),
    port: int = typer.Option(1883, help="Listener port written into mosquitto.conf."),
    bind: str = typer.Option("127.0.0.1", help="Listener address."),
    persistence_dir: Path = typer.Option(None, help="Mosquitto persistence folder (enables persistence)."),
    platform_password: str = typer.Option(
        None, help="Password of the platform's ingest user (default: the one in CHAOYUN_MQTT_URL)."
    ),
    tls_port: int = typer.Option(0, help="Also a TLS listener for device client certificates on this port (8883)."),
    tls_bind: str = typer.Option("0.0.0.0", help="TLS listener address."),
    tls_hostname: list[str] = typer.Option(
        ["localhost"], help="Host names / IP addresses of the broker's certificate (repeat the option)."
    ),
    tls_server_cert: Path = typer.Option(None, help="The broker's own certificate (PEM; default: issued by the "
                                                     "device CA into the output folder)."),
    tls_server_key: Path = typer.Option(None, help="Its private key (PEM)."),
) -> None:
    """Write Mosquitto's password file, ACL (deny by default) and a config from the device registry; with
    --tls-port also the device CA, the CRL of revoked device certificates and a TLS listener section."""
    from chaoyun.db import get_sessionmaker
    from chaoyun.devices.connectors import broker

    out = out.resolve()
    tls = None
    with get_sessionmaker()() as db:
        accounts = broker.collect_accounts(db, platform_password=platform_password)
        if tls_port:
            tls = broker.write_tls_files(
                out, db, port=tls_port, bind=tls_bind, hostnames=tuple(tls_hostname),
                server_cert=tls_server_cert.resolve() if tls_server_cert else None,
                server_key=tls_server_key.resolve() if tls_server_key else None,
            )
    paths = broker.write_files(
        out, accounts, port=port, bind=bind, persistence_dir=persistence_dir, tls_listener=tls
    )
    if tls is not None:
        paths += [tls.cafile, tls.crlfile, tls.certfile]
    for p in paths:
        typer.echo(f"wrote {p}")
    typer.echo(f"{len(accounts)} accounts. Reload a running Mosquitto with: kill -HUP <pid>")


def nats_config(
    out: Path = typer.Option(..., help="Folder for one <name>.conf per node."),
    node: list[str] = typer.Option(
        ..., help="NAME=HOST:CLIENT_PORT:CLUSTER_PORT:MQTT_PORT, once per node (e.g. n1=10.0.0.1:4222:6222:1883)."
    ),
    store_dir: Path = typer.Option(Path("/var/lib/nats-server/chaoyun"), help="JetStream folder on each node."),
    replicas: int = typer.Option(3, help="Copies of each MQTT message (stream replicas)."),
    platform_password: str = typer.Option(
        None, help="Password of the platform's user (default: the one in CHAOYUN_MQTT_URL)."
    ),
) -> None:
    """Write a NATS cluster's node configs (JetStream, routes, MQTT listener) with users and ACLs from the device
    registry (deny by default; devices need a bcrypt password hash: see docs/deployment.md)."""
    from chaoyun.db import get_sessionmaker
    from chaoyun.devices.connectors import broker, nats_broker
    from chaoyun.devices.connectors.config import mqtt_settings
    from chaoyun.devices.credentials import nats_hash

    nodes = []
    for spec in node:
        try:
            name, addr = spec.split("=", 1)
            host, client, cluster, mqtt_port = addr.rsplit(":", 3)
            nodes.append(nats_broker.Node(name, int(client), int(cluster), int(mqtt_port), store_dir / name, host))
        except ValueError:
            raise typer.BadParameter(f"--node {spec!r}: NAME=HOST:CLIENT:CLUSTER:MQTT") from None
    s = mqtt_settings()
    user = s.broker.username or "chaoyun-platform"
    password = platform_password or s.broker.password
    if not password:
        raise typer.BadParameter("the platform user needs a password (--platform-password or CHAOYUN_MQTT_URL)")
    with get_sessionmaker()() as db:
        accounts = [a for a in broker.collect_accounts(db) if a.username != user]
    accounts.insert(0, broker.platform_account(user, ""))
    # The platform's password goes into the files as bcrypt too, never in clear.
    cfg = nats_broker.render_users(accounts, platform_user=user, passwords={user: nats_hash(password)})
    for p in nats_broker.write_cluster(out.resolve(), nodes, cfg.users, replicas=replicas):
        typer.echo(f"wrote {p}")
    typer.echo(f"{len(cfg.users)} users")
    if cfg.without_password:
        shown = ", ".join(cfg.without_password[:20]) + (" …" if len(cfg.without_password) > 20 else "")
        typer.echo(
            f"{len(cfg.without_password)} accounts left out (denied): no bcrypt hash of their MQTT password, which "
            f"was set before the registry kept one (or they use certificates only). Rotating their credentials "
            f"adds it: {shown}"
        )


def gateway(config: Path = typer.Option(..., "--config", "-c", help="The gateway's YAML file.")) -> None:
    """Run the edge gateway: read OPC UA / Modbus devices and forward through the store-and-forward buffer."""
    import logging

    from chaoyun.devices.connectors.gateway import ConfigError, run_gateway

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_gateway(str(config))
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
