"""The ingest worker on a distributed log: NATS JetStream behind the brokers' MQTT listeners.

Devices publish MQTT QoS 1 to any node of a NATS cluster; the node stores each message in the replicated
stream ``$MQTT_msgs`` before its PUBACK. Any number of workers share one durable pull consumer (``--durable``):
each fetches a batch, stores it in one transaction through the same sink as the MQTT worker
(``PlatformSink``), and only then acknowledges every message of the batch. A worker that dies before its
acknowledgements leaves its messages to be redelivered (after ``ack_wait``) to another worker; a message whose
commit went through but whose acknowledgement was lost comes back too, and the store keeps one row per
(device, metric, timestamp), so nothing is counted twice.

The consumer must exist before devices publish: the stream keeps messages only for the consumers that exist
(``interest`` retention, the NATS server's choice for its MQTT stream). ``ensure_consumer`` creates it
(idempotent); the worker calls it at start, and a deployment runs one worker (or ``chaoyun ingest-worker
--source nats --setup-only``) before devices are let in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chaoyun.devices.connectors import topics
from chaoyun.devices.connectors.config import BrokerAddress
from chaoyun.devices.connectors.mqtt_ingest import RawMessage, Sink, WorkerStats, backoff_delays
from chaoyun.devices.connectors.nats_broker import MQTT_STREAM, MQTT_SUBJECT_PREFIX, topic_to_subject

log = logging.getLogger("chaoyun.log.ingest")
DURABLE = "chaoyun-ingest"
ACK = b""  # a JetStream "+ACK" may be an empty message to the reply subject


def poke_mqtt(address: BrokerAddress, timeout: float = 10) -> None:
    """Connect once through MQTT so the NATS server creates its MQTT streams for the account (it does so on the
    first MQTT connection)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"chaoyun-setup-{time.monotonic_ns()}")
    if address.username:
        c.username_pw_set(address.username, address.password)
    c.connect(address.host, address.port, keepalive=10)
    c.loop_start()
    deadline = time.monotonic() + timeout
    while not c.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    c.disconnect()
    c.loop_stop()


class LogIngestWorker:
    """A JetStream pull consumer feeding a sink; acknowledgements only after the sink returned (committed)."""

    def __init__(
        self,
        sink: Sink,
        servers: Sequence[str],
        *,
        durable: str = DURABLE,
        mqtt_address: BrokerAddress | None = None,
        batch_max: int = 2000,
        batch_wait_ms: int = 50,
        ack_wait_s: float = 30.0,
        max_ack_pending: int = 20000,
        name: str = "ingest",
    ) -> None:
        self.sink = sink
        self.servers = list(servers)
        self.durable = durable
        self.mqtt_address = mqtt_address
        self.batch_max = batch_max
        self.batch_wait = batch_wait_ms / 1000
        self.ack_wait_s = ack_wait_s
        self.max_ack_pending = max_ack_pending
        self.name = name
        self.stats = WorkerStats()
        self.connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._nc: Any = None

    def flow_state(self) -> dict[str, Any]:
        return {"paused": False, "pending": 0}

    def stop(self) -> None:
        self._stop.set()

    async def ensure_consumer(self, js: Any) -> None:
        """The durable consumer on the MQTT stream (created if missing; the stream itself if the server has not
        made it yet, by an MQTT connection)."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        for attempt in range(2):
            try:
                await js.stream_info(MQTT_STREAM)
                break
            except NotFoundError:
                if attempt or self.mqtt_address is None:
                    raise
                await asyncio.to_thread(poke_mqtt, self.mqtt_address)
                await asyncio.sleep(0.5)
        # One filter subject (NATS 2.9 has no multi-filter consumers): everything under the platform's prefix.
        prefix = MQTT_SUBJECT_PREFIX + topic_to_subject(topics.PREFIX) + ".>"
        cfg = ConsumerConfig(
            durable_name=self.durable,
            filter_subject=prefix,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_s,
            max_ack_pending=self.max_ack_pending,
            max_deliver=-1,
        )
        try:
            await js.consumer_info(MQTT_STREAM, self.durable)
        except NotFoundError:
            await js.add_consumer(MQTT_STREAM, cfg)
            log.info("created durable consumer %s on %s (%s)", self.durable, MQTT_STREAM, prefix)

    async def _connect(self) -> Any:
        import nats

        async def _err(exc: Exception) -> None:
            log.warning("NATS: %s", exc)

        async def _disc() -> None:
            self.connected.clear()
            log.warning("NATS connection lost; reconnecting")

        async def _rec() -> None:
            self.stats.connects += 1
            self.connected.set()
            url = self._nc.connected_url if self._nc else None
            log.info("NATS reconnected to %s:%s", url.hostname if url else "?", url.port if url else "?")

        # The credentials apply to every node, the ones the cluster announces (INFO connect_urls) as well.
        from urllib.parse import unquote, urlparse

        auth: dict[str, str] = {}
        first = urlparse(self.servers[0]) if self.servers else None
        if first is not None and first.username:
            auth = {"user": unquote(first.username), "password": unquote(first.password or "")}
        return await nats.connect(
            servers=self.servers,
            **auth,
            name=self.name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=3,
            allow_reconnect=True,
            error_cb=_err,
            disconnected_cb=_disc,
            reconnected_cb=_rec,
        )

    async def run(self) -> None:
        """Connect, make sure the consumer exists, and ingest until ``stop()``."""
        delays = backoff_delays()
        while not self._stop.is_set():
            try:
                self._nc = await self._connect()
                js = self._nc.jetstream(timeout=5)
                await self.ensure_consumer(js)
                sub = await js.pull_subscribe_bind(self.durable, MQTT_STREAM)
                break
            except Exception as exc:  # cluster starting, stream leader being elected
                self.stats.connect_failures += 1
                log.warning("NATS ingest: cannot start yet (%s)", exc)
                if self._nc is not None:
                    with contextlib.suppress(Exception):
                        await self._nc.close()
                    self._nc = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=next(delays))
        else:
            return
        self.stats.connects += 1
        self.connected.set()
        log.info("NATS ingest %s consuming %s/%s", self.name, MQTT_STREAM, self.durable)
        try:
            await self._consume(sub)
        finally:
            self.connected.clear()
            # Closed, not drained: what was fetched and not yet acknowledged is redelivered after ack_wait.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), timeout=5)

    async def _consume(self, sub: Any) -> None:
        import nats.errors

        nc = self._nc
        strip = len(MQTT_SUBJECT_PREFIX)
        while not self._stop.is_set():
            try:
                msgs = await sub.fetch(self.batch_max, timeout=max(self.batch_wait, 0.05))
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception as exc:  # leader change, connection lost: the client reconnects by itself
                log.warning("fetch failed (%s)", exc)
                await asyncio.sleep(0.2)
                continue
            if not msgs:
                continue
            now = datetime.now(UTC)
            batch = [RawMessage(_topic(m.subject[strip:]), m.data, now) for m in msgs]
            self.stats.received += len(batch)
            delays = None
            started = time.perf_counter()
            while True:
                try:
                    await asyncio.to_thread(self.sink, batch)
                    break
                except Exception as exc:  # database down: keep the batch, acknowledge nothing, tell JetStream
                    self.stats.sink_errors += 1
                    delays = delays or backoff_delays(0.2, 10.0)
                    wait = next(delays)
                    log.warning("storing a batch of %d messages failed (%s); retrying in %.1fs", len(batch), exc, wait)
                    for m in msgs:  # still working on them: no redelivery elsewhere meanwhile
                        with contextlib.suppress(Exception):
                            await nc.publish(m.reply, b"+WPI")
                    await asyncio.sleep(wait)
                    if self._stop.is_set():
                        return  # unacknowledged: redelivered to another worker
            self.stats.last_batch_s = time.perf_counter() - started
            self.stats.batches += 1
            self.stats.committed += len(batch)
            try:
                for m in msgs:
                    await nc.publish(m.reply, ACK)
                await nc.flush(timeout=5)
            except Exception as exc:  # lost acknowledgements: the messages come back, the store dedupes them
                log.warning("acknowledging %d messages failed (%s); they will be redelivered", len(msgs), exc)


def _topic(subject: str) -> str:
    if "//" not in subject:
        return subject.replace(".", "/")
    return subject.replace("//", "\x00").replace(".", "/").replace("\x00", ".")
