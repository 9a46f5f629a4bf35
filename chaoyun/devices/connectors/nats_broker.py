"""NATS server configuration for a clustered broker with JetStream and its MQTT listener, generated from the
device registry (the same accounts as Mosquitto's, ``broker.collect_accounts``).

Devices keep speaking MQTT: each NATS node opens an MQTT listener; a QoS 1 PUBLISH is stored in the account's
JetStream stream ``$MQTT_msgs`` (replicated on ``stream_replicas`` nodes) before the node sends the PUBACK, so an
acknowledged message survives the loss of a node. The platform's ingest workers read that stream through a
durable pull consumer (``log_ingest.py``) and acknowledge each message after its batch is committed.

Deny by default: a NATS user has exactly the subjects its MQTT topics map to (``a/b`` → ``a.b``; ``+`` → ``*``;
``#`` → ``>``): a device publishes only its own telemetry, attributes and command results and reads only its
own commands; a gateway the same for its devices; no anonymous user. The platform's user may do everything
(it also reads the JetStream API and its inbox).

Passwords: NATS 2.9 checks a password in clear or as a bcrypt hash only, not Mosquitto's PBKDF2. The registry
keeps a bcrypt hash of the same password next to the PBKDF2 one (``mqtt_password_bcrypt``, written wherever the
password is set or rotated); ``render_users`` writes it (or a clear password supplied in ``passwords``). Accounts
without one (password last set before the bcrypt column existed) are left out, which denies them; they are
counted in ``NatsConfig.without_password`` and rotating their credentials fixes them. See docs/deployment.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaoyun.devices.connectors.broker import Account


def run_coroutine(coro: Any) -> Any:
    """Run a coroutine to completion from synchronous code, also where this thread already runs an event loop
    (a test process with Playwright's sync API open): in a thread of its own, with a fresh loop."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()

MQTT_STREAM = "$MQTT_msgs"  # the stream the NATS server keeps QoS 1 MQTT messages in (per account)
MQTT_SUBJECT_PREFIX = "$MQTT.msgs."


def topic_to_subject(topic: str) -> str:
    """An MQTT topic or filter as a NATS subject (NATS's own mapping: ``.`` in a topic becomes ``//``)."""
    out = []
    for level in topic.split("/"):
        if level == "+":
            out.append("*")
        elif level == "#":
            out.append(">")
        else:
            out.append(level.replace(".", "//"))
    return ".".join(out)


def subject_to_topic(subject: str) -> str:
    """The MQTT topic of a NATS subject (inverse of ``topic_to_subject`` for topics without wildcards)."""
    if "//" not in subject:
        return subject.replace(".", "/")
    return subject.replace("//", "\x00").replace(".", "/").replace("\x00", ".")


def _is_bcrypt(h: str) -> bool:
    return h.startswith(("$2a$", "$2b$", "$2x$", "$2y$"))  # nats-server: ^\$2[abxy]\$\d{2}\$


@dataclass
class NatsConfig:
    users: list[dict[str, object]] = field(default_factory=list)
    without_password: list[str] = field(default_factory=list)


def render_users(
    accounts: Sequence[Account],
    *,
    platform_user: str | None = None,
    passwords: Mapping[str, str] | None = None,
) -> NatsConfig:
    """NATS ``authorization.users`` entries for the accounts (deny by default)."""
    cfg = NatsConfig()
    passwords = passwords or {}
    for a in accounts:
        pw = (
            passwords.get(a.username)
            or (a.nats_password_hash if _is_bcrypt(a.nats_password_hash or "") else None)
            or (a.password_hash if _is_bcrypt(a.password_hash or "") else None)
        )
        if not pw:
            cfg.without_password.append(a.username)
            continue
        if a.username == platform_user:
            perms: dict[str, object] = {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
        else:
            perms = {
                "publish": {"allow": [topic_to_subject(t) for t in a.write]},
                "subscribe": {"allow": [topic_to_subject(t) for t in a.read]},
            }
        cfg.users.append({"user": a.username, "password": pw, "permissions": perms})
    return cfg


@dataclass(frozen=True)
class Node:
    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    store_dir: Path
    host: str = "127.0.0.1"


def render_node_conf(
    node: Node,
    peers: Sequence[Node],
    users: Sequence[Mapping[str, object]],
    *,
    cluster_name: str = "chaoyun",
    replicas: int = 3,
    max_file: str = "10G",
    max_ack_pending: int = 0,
) -> str:
    """One node's ``nats-server`` config: client port, cluster routes to every peer, JetStream (file storage) and
    the MQTT listener whose stream keeps ``replicas`` copies."""
    routes = ", ".join(f"nats-route://{p.host}:{p.cluster_port}" for p in peers if p.name != node.name)
    lines = [
        "# Generated by chaoyun (devices/connectors/nats_broker.py); deny by default.",
        f"server_name: {json.dumps(node.name)}",
        f"listen: {node.host}:{node.client_port}",
        f"jetstream {{ store_dir: {json.dumps(str(node.store_dir))}, max_mem: 256MB, max_file: {max_file} }}",
    ]
    if len(peers) > 1:
        listen = f"{node.host}:{node.cluster_port}"
        lines.append(f"cluster {{ name: {json.dumps(cluster_name)}, listen: {listen}, routes: [{routes}] }}")
    mqtt = [f"listen: {node.host}:{node.mqtt_port}", f"stream_replicas: {replicas}"]
    if max_ack_pending:
        mqtt.append(f"max_ack_pending: {max_ack_pending}")
    lines.append("mqtt { " + ", ".join(mqtt) + " }")
    lines.append("authorization { users: " + json.dumps(list(users), indent=1) + " }")
    return "\n".join(lines) + "\n"


def write_cluster(
    out: Path,
    nodes: Sequence[Node],
    users: Sequence[Mapping[str, object]],
    **conf: object,
) -> list[Path]:
    """``<name>.conf`` per node in ``out`` (0600: it holds password hashes)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for n in nodes:
        path = out / f"{n.name}.conf"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(render_node_conf(n, nodes, users, **conf))  # type: ignore[arg-type]
        tmp.chmod(0o600)
        tmp.replace(path)
        written.append(path)
    return written


NATS_SERVER = "/usr/sbin/nats-server"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalCluster:
    """A NATS cluster of ``size`` nodes on loopback ports of this machine (tests, benchmarks, trying it out): each
    node a ``nats-server`` process with its generated config, JetStream store and MQTT listener under ``root``."""

    def __init__(
        self,
        root: Path,
        users: Sequence[Mapping[str, object]],
        size: int = 3,
        replicas: int | None = None,
        binary: str = NATS_SERVER,
    ) -> None:
        self.root = root
        self.binary = binary
        self._users = users
        self._replicas = replicas or min(3, size)
        self._size = size
        self._started_once = False
        self._pick_ports()
        self.procs: dict[str, Any] = {}
        self._admin: tuple[str, str] | None = None

    def _pick_ports(self) -> None:
        self.nodes = [
            Node(f"n{i + 1}", _free_port(), _free_port(), _free_port(), self.root / f"n{i + 1}" / "js")
            for i in range(self._size)
        ]
        write_cluster(self.root, self.nodes, self._users, replicas=self._replicas)

    def client_urls(self, user: str | None = None, password: str | None = None) -> list[str]:
        auth = f"{user}:{password}@" if user else ""
        return [f"nats://{auth}{n.host}:{n.client_port}" for n in self.nodes]

    def start(self, name: str | None = None) -> LocalCluster:
        """Start every node (or one). A port picked free can be taken by another process before the node binds it:
        the first start then picks new ports and tries again (twice at most); a restart keeps its ports."""
        attempts = 1 if self._started_once else 3
        for attempt in range(attempts):
            try:
                self._start(name)
                self._started_once = True
                return self
            except TimeoutError:
                if attempt == attempts - 1:
                    raise
                self.stop()
                self._pick_ports()
        return self

    def _start(self, name: str | None) -> None:
        import subprocess

        for n in self.nodes:
            if (name is None or n.name == name) and self.procs.get(n.name) is None:
                log = (self.root / f"{n.name}.log").open("ab")
                self.procs[n.name] = subprocess.Popen(
                    [self.binary, "-c", str(self.root / f"{n.name}.conf")], stdout=log, stderr=log
                )
        for n in self.nodes:
            if name is None or n.name == name:
                try:
                    _wait_port(n.host, n.mqtt_port, proc=self.procs.get(n.name))
                except TimeoutError as exc:
                    tail = (self.root / f"{n.name}.log").read_text(errors="replace")[-600:]
                    raise TimeoutError(f"{exc}; {n.name}'s log ends: {tail}") from None
        # A port that answers may be another process's (taken between picking and binding): the node then exits
        # at once ("address already in use"). Seen in CI, where the run then hung on the missing node.
        import time

        time.sleep(0.5)
        for n in self.nodes:
            p = self.procs.get(n.name)
            if (name is None or n.name == name) and p is not None and p.poll() is not None:
                self.procs.pop(n.name)
                tail = (self.root / f"{n.name}.log").read_text(errors="replace")[-600:]
                raise TimeoutError(f"{n.name} exited at start; its log ends: {tail}")

    def kill(self, name: str) -> None:
        """SIGKILL: the node dies as in a crash (no shutdown, no flush)."""
        p = self.procs.pop(name, None)
        if p is not None:
            p.kill()
            p.wait(timeout=10)

    def stop(self) -> None:
        for name in list(self.procs):
            p = self.procs.pop(name)
            p.terminate()
            try:
                p.wait(timeout=10)
            except Exception:
                p.kill()
                p.wait(timeout=10)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the JetStream API answers through every node (once a meta leader is elected); needs
        ``use_admin`` first (a user of the account)."""
        import time

        import nats

        async def check(url: str) -> bool:
            try:
                nc = await nats.connect(url, connect_timeout=1, max_reconnect_attempts=0, allow_reconnect=False)
            except Exception:
                return False
            try:
                await nc.jetstream(timeout=1).account_info()
                return True
            except Exception:
                return False
            finally:
                await nc.close()

        async def ok(url: str) -> bool:
            # Bounded as a whole: a node that died mid-handshake once left connect or close waiting for ever
            # (a CI run hung here instead of failing).
            import asyncio

            try:
                return await asyncio.wait_for(check(url), timeout=5)
            except TimeoutError:
                return False

        deadline = time.monotonic() + timeout
        for url in self._admin_urls:
            while not run_coroutine(ok(url)):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"NATS JetStream not ready at {url.split('@')[-1]}")
                time.sleep(0.2)

    def use_admin(self, user: str, password: str) -> LocalCluster:
        self._admin = (user, password)
        return self

    @property
    def _admin_urls(self) -> list[str]:
        return self.client_urls(*self._admin) if self._admin else []


def _wait_port(host: str, port: int, timeout: float = 30, proc: Any = None) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise TimeoutError(f"port {host}:{port}: the server exited ({proc.returncode})") from None
            time.sleep(0.05)
    raise TimeoutError(f"port {host}:{port} did not open")
