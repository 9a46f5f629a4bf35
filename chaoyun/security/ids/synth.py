"""A small simulated Modbus/TCP plant network, written as real frames: an HMI polling PLCs over persistent TCP
connections (read holding registers, read coils), an operator writing a set-point now and then, and the attacks
the detector is meant to catch. Used by the tests, the benchmark and the demo (the demo's alerts come from the
real detector run over this traffic). Deterministic: the same arguments give the same bytes."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

Frame = tuple[float, bytes]
LabelledFrame = tuple[float, bytes, int]

HMI = "192.168.10.10"
PLCS = ("192.168.10.21", "192.168.10.22", "192.168.10.23")
ATTACKER = "192.168.10.66"


def mac_of(ip: str) -> bytes:
    return b"\x00\x0c\x29" + socket.inet_aton(ip)[1:]


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return int(~s & 0xFFFF)


def ethernet(src_ip: str, dst_ip: str, ethertype: int, payload: bytes, src_mac: bytes | None = None) -> bytes:
    return (
        (mac_of(dst_ip) if dst_ip else b"\xff" * 6)
        + (src_mac or mac_of(src_ip))
        + struct.pack("!H", ethertype)
        + payload
    )


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int = 0) -> bytes:
    head = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        ident & 0xFFFF,
        0x4000,
        64,
        proto,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )
    head = head[:10] + struct.pack("!H", _checksum(head)) + head[12:]
    return head + payload


def tcp(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    flags: int,
    payload: bytes = b"",
    seq: int = 0,
    ack: int = 0,
    src_mac: bytes | None = None,
) -> bytes:
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 64240, 0, 0)
    return ethernet(src, dst, 0x0800, ipv4(src, dst, 6, seg + payload), src_mac)


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    dst_l2 = "" if dst.endswith(".255") else dst
    return ethernet(src, dst_l2, 0x0800, ipv4(src, dst, 17, seg))


def arp(sender_ip: str, target_ip: str, sender_mac: bytes | None = None) -> bytes:
    smac = sender_mac or mac_of(sender_ip)
    body = struct.pack(
        "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, smac, socket.inet_aton(sender_ip), b"\0" * 6, socket.inet_aton(target_ip)
    )
    return b"\xff" * 6 + smac + b"\x08\x06" + body


def mbap(tid: int, unit: int, fc: int, data: bytes, protocol: int = 0, length: int | None = None) -> bytes:
    n = len(data) + 2 if length is None else length
    return struct.pack("!HHHBB", tid & 0xFFFF, protocol, n, unit, fc) + data


@dataclass
class Conn:
    """A TCP connection from ``client`` to ``server`` with running sequence numbers."""

    client: str
    server: str
    cport: int
    sport: int = 502
    cseq: int = 1000
    sseq: int = 5000
    tid: int = 0
    src_mac: bytes | None = None
    frames: list[LabelledFrame] = field(default_factory=list)
    label: int = 0

    def _c(self, ts: float, flags: int, payload: bytes = b"") -> None:
        self.frames.append(
            (
                ts,
                tcp(
                    self.client, self.server, self.cport, self.sport, flags, payload, self.cseq, self.sseq, self.src_mac
                ),
                self.label,
            )
        )
        self.cseq += len(payload) + (1 if flags & 0x03 else 0)

    def _s(self, ts: float, flags: int, payload: bytes = b"") -> None:
        self.frames.append(
            (
                ts,
                tcp(self.server, self.client, self.sport, self.cport, flags, payload, self.sseq, self.cseq),
                self.label,
            )
        )
        self.sseq += len(payload) + (1 if flags & 0x03 else 0)

    def open(self, ts: float) -> None:
        self._c(ts, 0x02)
        self._s(ts + 0.0002, 0x12)
        self._c(ts + 0.0004, 0x10)

    def close(self, ts: float) -> None:
        self._c(ts, 0x11)
        self._s(ts + 0.0002, 0x11)
        self._c(ts + 0.0004, 0x10)

    def exchange(
        self, ts: float, unit: int, fc: int, data: bytes, reply: bytes | None, raw: bytes | None = None
    ) -> None:
        """A request (and its response after 1.5 ms; ``reply`` None: no response)."""
        self.tid = (self.tid + 1) & 0xFFFF
        self._c(ts, 0x18, raw if raw is not None else mbap(self.tid, unit, fc, data))
        if reply is not None:
            self._s(ts + 0.0015, 0x18, mbap(self.tid, unit, fc, reply))


def _regs(t: float, n: int, salt: int) -> bytes:
    vals = [int(500 + 40 * ((i + salt) % 7) + (t * (i + 1)) % 50) & 0xFFFF for i in range(n)]
    return bytes([2 * n]) + struct.pack(f"!{n}H", *vals)


def read_regs(start: int, qty: int) -> bytes:
    return struct.pack("!HH", start, qty)


def plant(
    seconds: float = 300.0,
    start: float = 1_767_225_600.0,
    period: float = 1.0,
    write_every: float = 45.0,
    plcs: tuple[str, ...] = PLCS,
) -> list[Frame]:
    """Normal traffic: the HMI polls every PLC every ``period`` s (holding registers 0-9 and coils 0-7 on unit 1),
    writes register 5 on one PLC every ``write_every`` s (rotating), and announces itself by ARP and NetBIOS
    broadcasts once a minute."""
    frames: list[LabelledFrame] = []
    conns = [Conn(HMI, plc, 49152 + i) for i, plc in enumerate(plcs)]
    for i, c in enumerate(conns):
        c.open(start + 0.01 * i)
    t = start + 0.1
    cycle = 0
    next_write = start + write_every / 2
    writes = 0
    while t < start + seconds:
        for i, c in enumerate(conns):
            at = t + 0.003 * i
            c.exchange(at, 1, 3, read_regs(0, 10), _regs(at, 10, i))
            c.exchange(at + 0.004, 1, 1, read_regs(0, 8), bytes([1, (cycle + i) & 0xFF]))
        if t >= next_write:
            c = conns[writes % len(conns)]
            value = 600 + 10 * (writes % 5)
            c.exchange(t + 0.02, 1, 6, struct.pack("!HH", 5, value), struct.pack("!HH", 5, value))
            writes += 1
            next_write += write_every
        if cycle % max(1, int(60 / period)) == 0:
            frames.append((t + 0.05, arp(HMI, plcs[cycle % len(plcs)]), 0))
            frames.append((t + 0.06, udp(HMI, "192.168.10.255", 138, 138, b"\x11\x0a" + b"\0" * 60), 0))
        cycle += 1
        t += period
    for c in conns:
        frames.extend(c.frames)
    frames.sort(key=lambda f: f[0])
    return [(ts, fr) for ts, fr, _ in frames]


def attacks(start: float, plcs: tuple[str, ...] = PLCS) -> dict[str, list[LabelledFrame]]:
    """One scenario per rule family, each starting at ``start`` (labelled 1)."""
    out: dict[str, list[LabelledFrame]] = {}
    # An unknown host (a laptop plugged into the switch) writes a coil.
    c = Conn(ATTACKER, plcs[0], 40001, label=1)
    c.open(start)
    c.exchange(start + 0.01, 1, 5, struct.pack("!HH", 2, 0xFF00), struct.pack("!HH", 2, 0xFF00))
    c.close(start + 0.02)
    out["unknown_host"] = c.frames
    # The HMI's own connection (a compromised HMI): a write to an unlearned register.
    c = Conn(HMI, plcs[1], 49153, cseq=900_000, sseq=900_000, tid=30000, label=1)
    c.exchange(start, 1, 6, struct.pack("!HH", 400, 1), struct.pack("!HH", 400, 1))
    out["write_unlearned_register"] = c.frames
    # A new function code: diagnostics (force listen-only mode).
    c = Conn(HMI, plcs[2], 49154, cseq=910_000, sseq=910_000, tid=31000, label=1)
    c.exchange(start, 1, 8, struct.pack("!HH", 4, 0), None)
    out["new_function_code"] = c.frames
    # A burst of writes to a learned register.
    c = Conn(HMI, plcs[0], 49152, cseq=920_000, sseq=920_000, tid=32000, label=1)
    for k in range(30):
        c.exchange(start + 0.02 * k, 1, 6, struct.pack("!HH", 5, 999), struct.pack("!HH", 5, 999))
    out["write_burst"] = [f for f in c.frames]
    # Malformed MBAP: protocol id 7, then a length that runs past the segment end.
    c = Conn(HMI, plcs[1], 49153, cseq=930_000, sseq=930_000, tid=33000, label=1)
    c.exchange(start, 1, 3, b"", None, raw=mbap(1, 1, 3, read_regs(0, 10), protocol=7))
    c.exchange(start + 0.01, 1, 3, b"", None, raw=mbap(2, 1, 3, read_regs(0, 10), length=300))
    out["malformed_mbap"] = c.frames
    # A field device turned master: PLC 2 writes a coil on PLC 1 (the shared capture's attack).
    c = Conn(plcs[1], plcs[0], 40002, label=1)
    c.open(start)
    c.exchange(start + 0.01, 1, 5, struct.pack("!HH", 2, 0xFF00), struct.pack("!HH", 2, 0xFF00))
    c.close(start + 0.02)
    out["slave_as_master"] = c.frames
    # ARP spoofing: the attacker's card claims the HMI's address.
    out["arp_spoof"] = [(start, arp(HMI, plcs[0], sender_mac=mac_of(ATTACKER)), 1)]
    return out


def mixed(
    seconds: float = 300.0,
    start: float = 1_767_225_600.0,
    scenarios: tuple[str, ...] | None = None,
    spacing: float = 20.0,
) -> list[LabelledFrame]:
    """Normal traffic with the chosen attack scenarios spread over it, sorted by time, labelled."""
    normal = [(ts, fr, 0) for ts, fr in plant(seconds, start)]
    chosen = scenarios or tuple(attacks(start))
    extra: list[LabelledFrame] = []
    for k, name in enumerate(chosen):
        extra.extend(attacks(start + spacing * (k + 1) + 0.5)[name])
    return sorted(normal + extra, key=lambda f: f[0])
