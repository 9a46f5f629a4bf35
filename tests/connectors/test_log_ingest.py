"""The NATS JetStream ingest worker on one real nats-server node: acknowledgement only after the commit (a sink
that fails keeps its batch, nothing is lost or doubled), and the stream's messages gone once stored."""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from chaoyun.devices.connectors import nats_broker, topics
from chaoyun.devices.connectors.config import BrokerAddress
from chaoyun.devices.connectors.log_ingest import LogIngestWorker
from chaoyun.devices.connectors.mqtt_ingest import RawMessage
from chaoyun.devices.connectors.sink import PlatformSink
from chaoyun.devices.store import get_store
from tests.connectors.helpers import Threaded, make_device, publish_all, publisher, wait_for
from tests.test_route_security import org_of

pytestmark = pytest.mark.skipif(not Path(nats_broker.NATS_SERVER).exists(), reason="nats-server not installed")
PW = secrets.token_hex(6)
BASE_MS = int(time.time() * 1000) - 3_600_000


@pytest.fixture()
def node() -> Iterator[nats_broker.LocalCluster]:
    root = Path(tempfile.mkdtemp(prefix="chaoyun-nats1-"))
    users = [{"user": "platform", "password": PW,
              "permissions": {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}}]
    c = nats_broker.LocalCluster(root, users, size=1).use_admin("platform", PW).start()
    c.wait_ready(30)
    yield c
    c.stop()
    shutil.rmtree(root, ignore_errors=True)


async def consumer_state(node: nats_broker.LocalCluster) -> tuple[int, int]:
    import nats

    nc = await nats.connect(node.client_urls("platform", PW)[0])
    try:
        js = nc.jetstream()
        ci = await js.consumer_info(nats_broker.MQTT_STREAM, "t")
        si = await js.stream_info(nats_broker.MQTT_STREAM)
        return ci.num_ack_pending or 0, si.state.messages
    finally:
        await nc.close()


class FlakySink:
    """The real sink, failing its first ``fail`` calls as a database outage would."""

    def __init__(self, fail: int) -> None:
        self.real = PlatformSink()
        self.fail = fail
        self.calls = 0

    def __call__(self, batch: list[RawMessage]) -> None:
        self.calls += 1
        if self.calls <= self.fail:
            raise ConnectionError("database unavailable")
        self.real(batch)


def test_outage_keeps_the_batch_and_acks_after_commit(node: nats_broker.LocalCluster, db: Session) -> None:
    org = org_of(db, "factory")
    dev, _pw = make_device(db, org.id)
    n0 = node.nodes[0]
    sink = FlakySink(fail=2)
    worker = LogIngestWorker(
        sink, node.client_urls("platform", PW), durable="t", batch_max=100, batch_wait_ms=20, ack_wait_s=30,
        mqtt_address=BrokerAddress("127.0.0.1", n0.mqtt_port, "platform", PW, False),
    )
    thread = Threaded(worker).start()
    try:
        wait_for(worker.connected.is_set, 30, what="consumer ready")
        pub = publisher(n0.mqtt_port, "platform", PW, v5=False)
        items = [(topics.telemetry(dev.uid), json.dumps({"ts": BASE_MS + i * 1000, "values": {"voltage": 220 + i}}))
                 for i in range(150)]
        assert publish_all(pub, items) == 150
        pub.disconnect()
        pub.loop_stop()
        wait_for(lambda: get_store().count(dev.id) == 150, 30, what="150 points stored after the outage")
        assert worker.stats.sink_errors == 2
        time.sleep(0.5)
        assert get_store().count(dev.id) == 150  # nothing stored twice, nothing redelivered
        # every message acknowledged once stored: none pending, and the stream (interest retention) let them go
        wait_for(lambda: nats_broker.run_coroutine(consumer_state(node)) == (0, 0), 10, what="all acknowledged")
    finally:
        thread.stop()
