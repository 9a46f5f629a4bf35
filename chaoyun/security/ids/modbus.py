"""Modbus/TCP (MBAP) and MQTT parsing for the detector: just what the rules look at, with the consistency checks
the specifications allow (Modbus Application Protocol v1.1b3, MQTT 3.1.1/5 fixed header)."""

from __future__ import annotations

from collections.abc import Iterator

COILS, DISCRETE, HOLDING, INPUT = "coils", "discrete_inputs", "holding_registers", "input_registers"
READS = {1: COILS, 2: DISCRETE, 3: HOLDING, 4: INPUT}
READ_MAX = {1: 2000, 2: 2000, 3: 125, 4: 125}
WRITE_FCS = frozenset({5, 6, 15, 16, 22, 23})
FUNCTION_NAMES = {
    1: "read coils",
    2: "read discrete inputs",
    3: "read holding registers",
    4: "read input registers",
    5: "write single coil",
    6: "write single register",
    7: "read exception status",
    8: "diagnostics",
    11: "get comm event counter",
    12: "get comm event log",
    15: "write multiple coils",
    16: "write multiple registers",
    17: "report server id",
    20: "read file record",
    21: "write file record",
    22: "mask write register",
    23: "read/write multiple registers",
    24: "read FIFO queue",
    43: "encapsulated interface (device identification)",
}

# (table, first address, last address, is_write)
Span = tuple[str, int, int, bool]


class Malformed(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def adus(payload: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """``(transaction id, unit id, function code, pdu data after the function code)`` for each ADU of a TCP
    segment. Raises ``Malformed`` (after yielding the good ones before it); a trailing partial ADU raises
    ``Malformed('partial')`` so the caller can keep it for the next segment."""
    pos = 0
    n = len(payload)
    while pos < n:
        if n - pos < 8:
            raise Malformed("partial")
        tid = (payload[pos] << 8) | payload[pos + 1]
        pid = (payload[pos + 2] << 8) | payload[pos + 3]
        length = (payload[pos + 4] << 8) | payload[pos + 5]
        if pid != 0:
            raise Malformed(f"protocol id {pid} (Modbus is 0)")
        if length < 2 or length > 254:
            raise Malformed(f"MBAP length {length} (2-254)")
        end = pos + 6 + length
        if end > n:
            raise Malformed("partial")
        fc = payload[pos + 7]
        if fc == 0:
            raise Malformed("function code 0")
        yield tid, payload[pos + 6], fc, payload[pos + 8 : end]
        pos = end


def request_spans(fc: int, pdu: bytes) -> list[Span]:
    """Addresses a request touches; raises ``Malformed`` when the PDU contradicts its function code."""
    n = len(pdu)
    if fc in READS:
        if n != 4:
            raise Malformed(f"fc {fc} request of {n + 1} bytes (5)")
        start = (pdu[0] << 8) | pdu[1]
        qty = (pdu[2] << 8) | pdu[3]
        if qty < 1 or qty > READ_MAX[fc] or start + qty > 65536:
            raise Malformed(f"fc {fc} quantity {qty} at {start}")
        return [(READS[fc], start, start + qty - 1, False)]
    if fc == 5 or fc == 6:
        if n != 4:
            raise Malformed(f"fc {fc} request of {n + 1} bytes (5)")
        addr = (pdu[0] << 8) | pdu[1]
        if fc == 5 and pdu[2:4] not in (b"\xff\x00", b"\x00\x00"):
            raise Malformed(f"write coil value {pdu[2:4].hex()} (ff00 or 0000)")
        return [(COILS if fc == 5 else HOLDING, addr, addr, True)]
    if fc == 15 or fc == 16:
        if n < 6:
            raise Malformed(f"fc {fc} request of {n + 1} bytes")
        start = (pdu[0] << 8) | pdu[1]
        qty = (pdu[2] << 8) | pdu[3]
        count = pdu[4]
        limit, expect = (1968, (qty + 7) // 8) if fc == 15 else (123, 2 * qty)
        if qty < 1 or qty > limit or count != expect or n - 5 != count or start + qty > 65536:
            raise Malformed(f"fc {fc} quantity {qty}, byte count {count}, data {n - 5}")
        return [(COILS if fc == 15 else HOLDING, start, start + qty - 1, True)]
    if fc == 22:
        if n != 6:
            raise Malformed(f"fc 22 request of {n + 1} bytes (7)")
        addr = (pdu[0] << 8) | pdu[1]
        return [(HOLDING, addr, addr, True)]
    if fc == 23:
        if n < 11:
            raise Malformed(f"fc 23 request of {n + 1} bytes")
        rs, rq, ws, wq, count = (
            (pdu[0] << 8) | pdu[1],
            (pdu[2] << 8) | pdu[3],
            (pdu[4] << 8) | pdu[5],
            (pdu[6] << 8) | pdu[7],
            pdu[8],
        )
        if not (1 <= rq <= 125 and 1 <= wq <= 121) or count != 2 * wq or n - 9 != count:
            raise Malformed(f"fc 23 quantities {rq}/{wq}, byte count {count}")
        return [(HOLDING, rs, rs + rq - 1, False), (HOLDING, ws, ws + wq - 1, True)]
    if fc >= 128:
        raise Malformed(f"request with exception function code {fc}")
    return []


def check_response(fc: int, pdu: bytes) -> int | None:
    """The exception code of an exception response (None otherwise); ``Malformed`` when inconsistent."""
    n = len(pdu)
    if fc & 0x80:
        if n != 1:
            raise Malformed(f"exception response of {n + 1} bytes (2)")
        return pdu[0]
    if fc in READS:
        if n < 1 or pdu[0] != n - 1:
            raise Malformed(f"fc {fc} response byte count {pdu[0] if n else '-'} with {n - 1} data bytes")
    elif fc in (5, 6, 15, 16) and n != 4:
        raise Malformed(f"fc {fc} response of {n + 1} bytes (5)")
    return None


# ------------------------------------------------------------------------------------------------ MQTT

MQTT_TYPES = {
    1: "CONNECT",
    2: "CONNACK",
    3: "PUBLISH",
    4: "PUBACK",
    5: "PUBREC",
    6: "PUBREL",
    7: "PUBCOMP",
    8: "SUBSCRIBE",
    9: "SUBACK",
    10: "UNSUBSCRIBE",
    11: "UNSUBACK",
    12: "PINGREQ",
    13: "PINGRESP",
    14: "DISCONNECT",
    15: "AUTH",
}


def mqtt_packets(payload: bytes) -> Iterator[tuple[int, list[str]]]:
    """``(packet type, topics)`` for each MQTT control packet of a segment (topics of PUBLISH and the filters of
    SUBSCRIBE / UNSUBSCRIBE); a partial trailing packet ends the iteration silently."""
    pos = 0
    n = len(payload)
    while pos < n:
        b0 = payload[pos]
        ptype = b0 >> 4
        if ptype == 0:
            raise Malformed("MQTT packet type 0")
        mult = 1
        length = 0
        i = pos + 1
        while True:
            if i >= n:
                return
            b = payload[i]
            length += (b & 0x7F) * mult
            i += 1
            if not b & 0x80:
                break
            mult *= 128
            if mult > 128**3:
                raise Malformed("MQTT remaining length over 4 bytes")
        end = i + length
        if end > n:
            return
        body = payload[i:end]
        topics: list[str] = []
        if ptype == 3:
            if len(body) < 2:
                raise Malformed("MQTT PUBLISH without topic")
            tl = (body[0] << 8) | body[1]
            if tl + 2 > len(body):
                raise Malformed("MQTT PUBLISH topic longer than the packet")
            topics.append(body[2 : 2 + tl].decode("utf-8", "replace"))
        elif ptype in (8, 10):
            j = 2
            while j + 2 <= len(body):
                tl = (body[j] << 8) | body[j + 1]
                if j + 2 + tl > len(body):
                    break  # MQTT 5 properties or a cut filter: keep what was read
                topics.append(body[j + 2 : j + 2 + tl].decode("utf-8", "replace"))
                j += 2 + tl + (1 if ptype == 8 else 0)
        yield ptype, topics
        pos = end


def topic_pattern(topic: str) -> str:
    """A topic with numeric levels generalised (``plant/line3/m17/temp`` keeps, ``dev/0042/t`` → ``dev/#n/t``)."""
    return "/".join("#n" if level.isdigit() else level for level in topic.split("/"))
