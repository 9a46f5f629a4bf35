"""The platform's MQTT ingest worker.

- MQTT 5, QoS 1, a persistent session (``clean_start=False`` + session expiry), so messages the broker
  holds while the worker (or the whole platform) is down are delivered when it comes back;
- shared subscriptions (``$share/<group>/...``, ``CHAOYUN_MQTT_SHARE_GROUP``): several workers split the load.
  Without a group (the default) one worker holds a plain subscription: Mosquitto 2.0 restores plain
  subscriptions of persistent sessions after its own restart, but not shared ones until a member reconnects
  (messages published in that window are dropped; see docs/connectivity.md);
- messages are collected into batches; each batch is stored in one transaction (``ingest_batch``)
  and only then acknowledged (PUBACK sent after the commit, gmqtt's ``optimistic_acknowledgement=False``),
  so a message the broker considers delivered is always in the database;
- the broker's in-flight window (``receive_maximum``) bounds what the worker holds in memory: when the
  database is slower than the devices, the backlog stays in the broker (back-pressure), not in RAM;
- if the database is unavailable, the batch is retried with back-off and nothing is acknowledged;
- the connection is re-established with exponential back-off and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chaoyun.devices.connectors import topics
from chaoyun.devices.connectors.config import BrokerAddress, MqttSettings, mqtt_settings

log = logging.getLogger("chaoyun.mqtt.ingest")
# A read smaller than this stops the socket being read for COALESCE_S: at 10,000 msg/s a worker woke for every
# one or two messages (an epoll wake-up, a recv, the reader's future, the task: about 10 µs a message); paused,
# the kernel gathers the next packets and one recv takes them all. The task-level pause tried before did not help:
# the transport kept reading on every wake-up.
COALESCE_BYTES = 16_384
COALESCE_S = 0.002
PUBACK = b"\x40\x02"  # fixed header of a PUBACK whose remaining length is the 2-byte packet id


@dataclass(slots=True)
class RawMessage:
    topic: str
    payload: bytes
    received_at: datetime


# A sink stores one batch of messages and returns normally once they are durable (committed);
# raising makes the worker retry the same batch later without acknowledging anything.
Sink = Callable[[list[RawMessage]], None]


@dataclass
class WorkerStats:
    received: int = 0
    committed: int = 0
    batches: int = 0
    sink_errors: int = 0
    connects: int = 0
    connect_failures: int = 0
    pauses: int = 0
    last_batch_s: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def backoff_delays(first: float = 0.5, cap: float = 30.0) -> Any:
    """Exponential back-off with full jitter: 0.5, 1, 2, 4 ... capped, each randomised to [d/2, d]."""
    delay = first
    while True:
        yield random.uniform(delay / 2, delay)
        delay = min(cap, delay * 2)


class IngestWorker:
    def __init__(
        self,
        sink: Sink,
        *,
        address: BrokerAddress | None = None,
        client_id: str | None = None,
        group: str | None = None,
        filters: Sequence[str] = topics.PLATFORM_FILTERS,
        batch_max: int | None = None,
        batch_wait_ms: int | None = None,
        session_expiry_s: int | None = None,
        receive_maximum: int | None = None,
        settings: MqttSettings | None = None,
    ) -> None:
        s = settings or mqtt_settings()
        self.sink = sink
        self.address = address or s.broker
        self.client_id = client_id or s.client_id
        # "" = a plain subscription (one worker); a name = shared subscription group (several workers).
        self.group = s.share_group if group is None else group
        self.filters = list(filters)
        self.batch_max = batch_max or s.batch_max
        self.batch_wait = (batch_wait_ms if batch_wait_ms is not None else s.batch_wait_ms) / 1000
        self.session_expiry_s = session_expiry_s if session_expiry_s is not None else s.session_expiry_s
        self.receive_maximum = receive_maximum or s.receive_maximum
        self.stats = WorkerStats()
        self.connected = asyncio.Event()
        # (message, gmqtt handler, packet id or None for QoS 0, connection generation)
        self._pending: list[tuple[RawMessage, Any, int | None, int]] = []
        self._first_at = 0.0  # when the oldest pending message arrived (monotonic)
        self._gen = 0
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._client: Any = None
        self._paused = False
        self._flow = asyncio.Event()
        self._flow.set()

    # -- messages -----------------------------------------------------------------------------------
    def _on_qos1(self, handler: Any, gen: int, mid: int, packet: bytes, topic: str, properties: Any) -> None:
        """Replaces gmqtt's QoS 1 handling: queue the message, acknowledge it only after the commit.

        (gmqtt's own non-optimistic path would make a task and a future per message; this keeps the per-message
        cost to an append.)"""
        self._pending.append((RawMessage(topic, packet, datetime.now(UTC)), handler, mid, gen))
        self._arrived()

    def _on_message(self, client: Any, topic: str, payload: bytes, qos: int, properties: Any) -> int:
        """QoS 0 messages (nothing to acknowledge) and anything gmqtt hands over itself."""
        self._pending.append((RawMessage(topic, payload, datetime.now(UTC)), None, None, self._gen))
        self._arrived()
        return 0

    def _arrived(self) -> None:
        self.stats.received += 1
        n = len(self._pending)
        if n == 1:
            self._first_at = time.monotonic()
        if n >= self.batch_max:
            self._wake.set()
        if n >= self.receive_maximum and not self._paused:
            # Back-pressure: stop reading the socket; the broker keeps the backlog (Mosquitto 2.0 does not
            # honour the receive-maximum the worker announces, so the window is enforced here as well).
            self._pause(True)

    def flow_state(self) -> dict[str, Any]:
        """For the stats file: is reading paused, and how many messages wait to be stored."""
        return {"paused": self._paused, "pending": len(self._pending)}

    def _pause(self, paused: bool) -> None:
        # The worker stops taking bytes from gmqtt's stream (see _gate_reads); asyncio's stream reader then
        # stops reading the socket once its own buffer is full, and TCP pushes back on the broker.
        if paused:
            self._flow.clear()
        else:
            self._flow.set()
        self._paused = paused
        self.stats.pauses += int(paused)

    def _fast_publishes(self, client: Any) -> None:
        """Take QoS 1 PUBLISH packets straight from gmqtt's read buffer.

        gmqtt turns every packet into an object, dispatches it, unpacks it with per-message struct formats and
        parses its MQTT 5 properties — together more CPU than storing the message. Here a QoS 1 PUBLISH (the
        only thing the broker sends in volume) is cut out of the buffer in place: topic, packet id, properties
        skipped, payload. Every other packet, and a PUBLISH that uses a topic alias, goes to gmqtt as before."""
        connection = getattr(client, "_connection", None)
        protocol = getattr(connection, "_protocol", None)
        if protocol is None:
            return
        handler = client._package_handler
        original = protocol._read_packet
        gen = self._gen
        pending = self._pending_append
        arrived = self._arrived

        def read_packet(data: bytes) -> int:
            if handler.current_connection is not connection:
                return int(original(data))  # superseded: gmqtt drops what it reads
            connection._last_data_in = time.monotonic()
            now = datetime.now(UTC)
            parsed, n = 0, len(data)
            while n - parsed >= 2:
                size, i = _varint(data, parsed + 1, n)
                if size < 0:
                    return parsed if size == -1 else -1
                end = i + size
                if end > n:
                    return parsed
                # 0x32: PUBLISH with QoS 1 (the DUP and RETAIN bits masked out).
                if data[parsed] & 0xF6 == 0x32 and size >= 5:
                    tlen = (data[i] << 8) | data[i + 1]
                    t_end = i + 2 + tlen
                    if tlen and t_end + 3 <= end:
                        mid = (data[t_end] << 8) | data[t_end + 1]
                        # MQTT 5 properties: a variable-byte length, then the properties (not needed here).
                        plen, j = _varint(data, t_end + 2, end)
                        start = j + plen
                        if plen >= 0 and start <= end:
                            topic = data[i + 2 : t_end].decode("utf-8", "replace")
                            pending((RawMessage(topic, data[start:end], now), handler, mid, gen))
                            arrived()
                            parsed = end
                            continue
                done = original(data[parsed:end])
                if done != end - parsed:
                    return parsed if done >= 0 else -1
                parsed = end
            return parsed

        protocol._read_packet = read_packet

    def _pending_append(self, item: tuple[RawMessage, Any, int | None, int]) -> None:
        self._pending.append(item)

    def _gate_reads(self, client: Any) -> None:
        protocol = getattr(getattr(client, "_connection", None), "_protocol", None)
        if protocol is None:
            return
        original = protocol.read
        flow = self._flow
        loop = asyncio.get_running_loop()

        def resume() -> None:
            t = protocol._transport
            if t is not None and not t.is_closing():
                t.resume_reading()

        async def gated_read(n: int) -> bytes:
            await flow.wait()
            data: bytes = await original(n)
            if len(data) < COALESCE_BYTES:
                t = protocol._transport
                if t is not None and not t.is_closing() and t.is_reading():
                    t.pause_reading()
                    loop.call_later(COALESCE_S, resume)
            return data

        protocol.read = gated_read

    async def _flusher(self) -> None:
        delays = None
        while True:
            if not self._pending:
                self._wake.clear()
                if self._stop.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.batch_wait)
                continue
            if len(self._pending) < self.batch_max and not self._stop.is_set():
                # Let a batch fill for at most batch_wait after its first message. Counted from its arrival, not
                # from now: messages that came while the last batch was being stored have waited already (a fresh
                # wait after every batch left the sink idle a third of the time under load).
                wait = self.batch_wait - (time.monotonic() - self._first_at)
                if wait > 0:
                    await asyncio.sleep(wait)
            batch, self._pending = self._pending[: self.batch_max], self._pending[self.batch_max :]
            self._first_at = time.monotonic() if self._pending else 0.0
            if not batch:
                continue
            started = time.perf_counter()
            try:
                await asyncio.to_thread(self.sink, [m for m, _h, _mid, _g in batch])
            except Exception as exc:  # the database is down or locked: keep the batch, ack nothing
                self.stats.sink_errors += 1
                delays = delays or backoff_delays(0.2, 10.0)
                wait = next(delays)
                log.warning("storing a batch of %d messages failed (%s); retrying in %.1fs", len(batch), exc, wait)
                self._pending = batch + self._pending
                await asyncio.sleep(wait)
                continue
            delays = None
            self.stats.last_batch_s = time.perf_counter() - started
            self.stats.batches += 1
            self.stats.committed += len(batch)
            self._acknowledge(batch)
            if self._paused and len(self._pending) < self.receive_maximum // 2:
                self._pause(False)

    def _acknowledge(self, batch: list[tuple[RawMessage, Any, int | None, int]]) -> None:
        """PUBACK the stored messages, all of a batch in one write (one packet per message through gmqtt cost
        several microseconds each). Only on the connection that delivered them: after a reconnect the broker
        redelivers instead."""
        acks: dict[int, tuple[Any, bytearray]] = {}
        for _m, handler, mid, gen in batch:
            if mid is None or gen != self._gen:
                continue
            entry = acks.get(id(handler))
            if entry is None:
                entry = acks[id(handler)] = (handler, bytearray())
            # MQTT 5 §3.4.2.1: reason code 0 (success) without properties may be left out: remaining length 2.
            entry[1].extend(PUBACK + mid.to_bytes(2, "big"))
        for handler, data in acks.values():
            conn = getattr(handler, "_connection", None)
            if conn is not None and not conn.is_closing():
                conn.send_package(bytes(data))

    def _drop_unflushed(self) -> None:
        """The connection is gone: messages not yet stored will be redelivered by the broker, so forget them."""
        dropped = sum(1 for _m, _h, mid, gen in self._pending if mid is not None and gen == self._gen)
        self._pending = [p for p in self._pending if p[2] is None]  # QoS 0 ones cannot come back: keep them
        if dropped:
            log.info("connection lost: %d unstored messages left to the broker for redelivery", dropped)

    # -- connection ---------------------------------------------------------------------------------
    def _new_client(self, lost: asyncio.Event) -> Any:
        import gmqtt

        client = gmqtt.Client(
            self.client_id,
            clean_session=False,
            optimistic_acknowledgement=False,
            session_expiry_interval=self.session_expiry_s,
            receive_maximum=self.receive_maximum,
            logger=logging.getLogger("chaoyun.mqtt.gmqtt"),
        )
        client.set_config({"reconnect_retries": 0, "reconnect_delay": 1})

        # gmqtt's own reconnection is switched off: this worker reconnects with back-off using a *new* client;
        # a second, internal reconnect of the old one (same client id) would make the two take the session
        # from each other in a loop.
        async def _no_reconnect(*_a: Any, **_k: Any) -> None:
            return None

        client._package_handler._reconnect_callback = _no_reconnect
        if self.address.username:
            client.set_auth_credentials(self.address.username, self.address.password)
        client.on_message = self._on_message
        client.on_disconnect = lambda *_a, **_k: lost.set()
        self._gen += 1
        handler = client._package_handler
        handler._handle_qos_1_publish_packet = functools.partial(self._on_qos1, handler, self._gen)
        return client

    async def run(self) -> None:
        """Connect, subscribe and ingest until ``stop()``; reconnects with back-off for ever."""
        from gmqtt.mqtt.constants import MQTTv50

        flusher = asyncio.create_task(self._flusher())
        delays = backoff_delays()
        try:
            while not self._stop.is_set():
                lost = asyncio.Event()
                client = self._new_client(lost)
                try:
                    await asyncio.wait_for(
                        client.connect(
                            self.address.host, self.address.port, ssl=self.address.tls, keepalive=30, version=MQTTv50
                        ),
                        timeout=10,
                    )
                except Exception as exc:
                    self.stats.connect_failures += 1
                    wait = next(delays)
                    log.warning("MQTT connect to %s:%s failed (%s); retrying in %.1fs",
                                self.address.host, self.address.port, exc, wait)
                    await _quiet_disconnect(client)
                    await _sleep_or_stop(self._stop, wait)
                    continue
                delays = backoff_delays()
                self.stats.connects += 1
                self._client = client
                self._paused = False
                self._flow.set()
                self._gate_reads(client)
                self._fast_publishes(client)
                for f in self.filters:
                    client.subscribe(topics.shared(self.group, f) if self.group else f, qos=1)
                log.info("MQTT ingest %s connected to %s:%s, group %s",
                         self.client_id, self.address.host, self.address.port, self.group)
                self.connected.set()
                stop_wait = asyncio.create_task(self._stop.wait())
                lost_wait = asyncio.create_task(lost.wait())
                await asyncio.wait({stop_wait, lost_wait}, return_when=asyncio.FIRST_COMPLETED)
                stop_wait.cancel()
                lost_wait.cancel()
                self.connected.clear()
                if self._stop.is_set():
                    # Finish the batches in hand so their acknowledgements go out, then leave.
                    await self._drain(timeout=10)
                    await _quiet_disconnect(client)
                    break
                log.warning("MQTT connection lost; reconnecting")
                self._drop_unflushed()
                self._gen += 1  # a batch being stored now must not be acknowledged on a later connection
                await _quiet_disconnect(client)
                await _sleep_or_stop(self._stop, next(delays))
        finally:
            self._stop.set()
            self._wake.set()
            try:
                await asyncio.wait_for(flusher, timeout=15)
            except (TimeoutError, asyncio.CancelledError):
                flusher.cancel()
            self._drop_unflushed()

    async def _drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self._wake.set()
        while self._pending and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # let the PUBACKs of the last batch be written

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


def _varint(data: bytes, i: int, end: int) -> tuple[int, int]:
    """MQTT variable byte integer at data[i:end]: (value, index after it); value -1 when it runs past end,
    -2 when it is longer than the four bytes MQTT allows."""
    value, mult = 0, 1
    while i < end:
        b = data[i]
        i += 1
        value += (b & 0x7F) * mult
        if not b & 0x80:
            return value, i
        mult *= 128
        if mult > 2097152:
            return -2, i
    return -1, i


async def _quiet_disconnect(client: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.disconnect(), timeout=2)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
