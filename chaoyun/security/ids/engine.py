"""The detector: learn an allow-list profile from normal traffic, then flag every frame outside it.

One dissector (Ethernet → ARP / IPv4 → TCP / UDP → Modbus MBAP / MQTT) feeds both modes. Learning records who
talks to whom on which port, the IP↔MAC bindings, and per Modbus master→slave pair the unit ids, function codes,
the address hull of each data table (coils, discrete inputs, holding and input registers, read or written), the
request and write rates per time window, the exception codes and the inter-arrival of requests; per MQTT client
the packet types and topics. Detection checks each frame against that and names the rule and the frame.

Generalisation choices (the profile is scored on captures it has not seen):
- a Modbus function code is allowed per master (the master's own vocabulary), not per master×slave pair, as long
  as the addresses it touches lie inside the tables the master already reads or writes on that slave: the HMI may
  operate any point it monitors, but not a new one;
- rates use limits of ``max(2 × learned maximum, learned maximum + 3)`` per window, never the learned value;
- TCP client ports are ephemeral and ignored; a conversation is (client, server, protocol, server port).
"""

from __future__ import annotations

import json
import socket
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chaoyun.security.ids import modbus as mb

PROFILE_FORMAT = "chaoyun-ids-profile/1"
PARAMS: dict[str, Any] = {
    "modbus_ports": [502],
    "mqtt_ports": [1883],
    "request_window_s": 1.0,
    "write_window_s": 10.0,
    "alert_gap_s": 60.0,
    "response_timeout_s": 30.0,
    # Link-local discovery that every host sends now and then (DHCP, NetBIOS, DHCPv6, SSDP, WS-Discovery, mDNS,
    # LLMNR): allowed to broadcast/multicast from known hosts even when the learning capture missed it.
    "group_udp_ports_allowed": [67, 68, 137, 138, 546, 547, 1900, 3702, 5353, 5355],
}
MAX_ALERT_FRAMES = 2000
STARTUP_GRACE_S = 5.0  # responses without a request right after the capture starts are not flagged

RULES: dict[str, str] = {
    # rule -> severity
    "unknown_mac": "major",
    "ip_mac_mismatch": "critical",
    "unknown_protocol": "minor",
    "unknown_host": "critical",
    "unknown_flow": "major",
    "tcp_flags": "major",
    "malformed_frame": "minor",
    "modbus_malformed": "major",
    "modbus_unit": "major",
    "modbus_function": "critical",
    "modbus_address": "critical",
    "modbus_write_rate": "critical",
    "modbus_request_rate": "major",
    "modbus_unmatched": "major",
    "modbus_exception": "minor",
    "mqtt_malformed": "major",
    "mqtt_type": "major",
    "mqtt_topic": "major",
}
PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}


def ip_str(b: bytes) -> str:
    return socket.inet_ntoa(b) if len(b) == 4 else b.hex()


def mac_str(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _mac_bytes(s: str) -> bytes:
    return bytes(int(x, 16) for x in s.split(":"))


def _is_group(ip: bytes) -> bool:
    """Broadcast or multicast destinations (a /24 broadcast is assumed for x.y.z.255)."""
    return ip[3] == 255 or 224 <= ip[0] <= 239 or ip == b"\0\0\0\0"


def _limit(learned_max: int) -> int:
    return max(2 * learned_max, learned_max + 3)


# --------------------------------------------------------------------------------------- dissection

# kind: 0 = bad Ethernet, 1 = other ethertype (ARP handled), 2 = IPv4, 3 = bad IPv4
Decoded = tuple[int, bytes, int, bytes, bytes, int, int, int, int, bytes]


def decode(d: bytes) -> Decoded:
    """``(kind, src_mac, ethertype, src_ip, dst_ip, proto, sport, dport, tcp_flags, payload)``; for ARP the
    sender's IP is ``src_ip`` and its claimed MAC ``payload``."""
    n = len(d)
    if n < 14:
        return (0, b"", 0, b"", b"", 0, 0, 0, 0, b"")
    et = (d[12] << 8) | d[13]
    off = 14
    if et == 0x8100 and n >= 18:
        et = (d[16] << 8) | d[17]
        off = 18
    smac = d[6:12]
    if et != 0x0800:
        if et == 0x0806 and n >= off + 28:
            return (1, smac, et, d[off + 14 : off + 18], d[off + 24 : off + 28], 0, 0, 0, 0, d[off + 8 : off + 14])
        return (1, smac, et, b"", b"", 0, 0, 0, 0, b"")
    if n < off + 20 or d[off] >> 4 != 4:
        return (3, smac, et, b"", b"", 0, 0, 0, 0, b"")
    ihl = (d[off] & 15) * 4
    total = (d[off + 2] << 8) | d[off + 3]
    proto = d[off + 9]
    src = d[off + 12 : off + 16]
    dst = d[off + 16 : off + 20]
    if ihl < 20 or total < ihl:
        return (3, smac, et, src, dst, proto, 0, 0, 0, b"")
    end = off + total
    t = off + ihl
    if (d[off + 6] & 0x1F) or d[off + 7]:  # a later fragment: no transport header
        return (2, smac, et, src, dst, proto, -1, -1, 0, b"")
    if proto == 6:
        if end < t + 20 or n < t + 20:
            return (3, smac, et, src, dst, proto, 0, 0, 0, b"")
        hl = (d[t + 12] >> 4) * 4
        if hl < 20:
            return (3, smac, et, src, dst, proto, 0, 0, 0, b"")
        return (
            2,
            smac,
            et,
            src,
            dst,
            6,
            (d[t] << 8) | d[t + 1],
            (d[t + 2] << 8) | d[t + 3],
            d[t + 13],
            d[t + hl : end],
        )
    if proto == 17:
        if n < t + 8:
            return (3, smac, et, src, dst, proto, 0, 0, 0, b"")
        return (2, smac, et, src, dst, 17, (d[t] << 8) | d[t + 1], (d[t + 2] << 8) | d[t + 3], 0, d[t + 8 : end])
    return (2, smac, et, src, dst, proto, 0, 0, 0, b"")


def _bad_tcp_flags(f: int) -> bool:
    f &= 0x3F
    if f == 0x02 or f == 0x04:
        return False
    return not (f & 0x10) or (f & 0x03) == 0x03 or (f & 0x06) == 0x06


# --------------------------------------------------------------------------------------- learning


@dataclass
class _PairStats:
    units: set[int] = field(default_factory=set)
    functions: set[int] = field(default_factory=set)
    tables: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    exceptions: set[int] = field(default_factory=set)
    req_windows: dict[int, int] = field(default_factory=dict)
    write_windows: dict[int, int] = field(default_factory=dict)
    last_req: float | None = None
    gaps: list[float] = field(default_factory=list)
    requests: int = 0
    writes: int = 0


class Learner:
    """Feed it normal frames; ``profile()`` gives the allow-list."""

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = {**PARAMS, **(params or {})}
        self.modbus_ports = set(self.params["modbus_ports"])
        self.mqtt_ports = set(self.params["mqtt_ports"])
        self.macs: dict[bytes, set[int]] = {}
        self.bindings: dict[bytes, set[bytes]] = {}
        self.hosts: set[bytes] = set()
        self.services: dict[tuple[bytes, bytes, int, int], int] = {}
        self.pairs: dict[tuple[bytes, bytes], _PairStats] = {}
        self.mqtt: dict[tuple[bytes, bytes], tuple[set[int], set[str]]] = {}
        self.frames = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None

    def feed(self, ts: float, frame: bytes) -> None:
        self.frames += 1
        if self.first_ts is None:
            self.first_ts = ts
        self.last_ts = ts
        kind, smac, et, src, dst, proto, sport, dport, flags, payload = decode(frame)
        if kind == 0:
            return
        if smac != b"\0" * 6:
            self.macs.setdefault(smac, set()).add(et)
        if kind == 1:
            if et == 0x0806 and src and src != b"\0\0\0\0":
                self.bindings.setdefault(src, set()).add(payload)
            return
        if kind == 3:
            return
        self.bindings.setdefault(src, set()).add(smac)
        self.hosts.add(src)
        if not _is_group(dst):
            self.hosts.add(dst)
        if sport < 0:
            return
        if _is_group(dst):
            key = (src, dst, proto, dport)
        elif proto == 6 and flags & 0x12 == 0x02:
            key = (src, dst, 6, dport)
        elif proto == 6 and flags & 0x12 == 0x12:
            key = (dst, src, 6, sport)
        elif (src, dst, proto, dport) in self.services:
            key = (src, dst, proto, dport)
        elif (dst, src, proto, sport) in self.services:
            key = (dst, src, proto, sport)
        elif (
            dport in self.modbus_ports
            or dport in self.mqtt_ports
            or (dport <= sport and sport not in self.modbus_ports)
        ):
            key = (src, dst, proto, dport)
        else:
            key = (dst, src, proto, sport)
        self.services[key] = self.services.get(key, 0) + 1
        if proto != 6 or not payload:
            return
        if dport in self.modbus_ports or sport in self.modbus_ports:
            self._modbus(ts, src, dst, dport in self.modbus_ports, payload)
        elif dport in self.mqtt_ports:
            self._mqtt(src, dst, payload)

    def _modbus(self, ts: float, src: bytes, dst: bytes, request: bool, payload: bytes) -> None:
        pair = self.pairs.setdefault((src, dst) if request else (dst, src), _PairStats())
        try:
            for _tid, unit, fc, pdu in mb.adus(payload):
                if not request:
                    code = mb.check_response(fc, pdu)
                    if code is not None:
                        pair.exceptions.add(code)
                    continue
                spans = mb.request_spans(fc, pdu)
                pair.units.add(unit)
                pair.functions.add(fc)
                pair.requests += 1
                w = int(ts / self.params["request_window_s"])
                pair.req_windows[w] = pair.req_windows.get(w, 0) + 1
                if pair.last_req is not None:
                    pair.gaps.append(ts - pair.last_req)
                pair.last_req = ts
                if fc in mb.WRITE_FCS:
                    pair.writes += 1
                    w = int(ts / self.params["write_window_s"])
                    pair.write_windows[w] = pair.write_windows.get(w, 0) + 1
                for table, lo, hi, _write in spans:
                    hull = pair.tables.get((unit, table))
                    if hull is None:
                        pair.tables[(unit, table)] = [lo, hi]
                    else:
                        hull[0] = min(hull[0], lo)
                        hull[1] = max(hull[1], hi)
        except mb.Malformed:
            return  # normal traffic is not learned from its malformed frames

    def _mqtt(self, src: bytes, dst: bytes, payload: bytes) -> None:
        types, topics = self.mqtt.setdefault((src, dst), (set(), set()))
        try:
            for ptype, names in mb.mqtt_packets(payload):
                types.add(ptype)
                topics.update(mb.topic_pattern(t) for t in names)
        except mb.Malformed:
            return

    def profile(self, source: str = "") -> dict[str, Any]:
        masters: dict[str, set[int]] = {}
        modbus = []
        for (m, s), p in sorted(self.pairs.items()):
            if not p.requests:
                continue
            masters.setdefault(ip_str(m), set()).update(p.functions)
            gaps = sorted(g for g in p.gaps if g >= 0)
            modbus.append(
                {
                    "master": ip_str(m),
                    "slave": ip_str(s),
                    "units": sorted(p.units),
                    "functions": sorted(p.functions),
                    "tables": [
                        {"unit": u, "table": t, "first": lo, "last": hi}
                        for (u, t), (lo, hi) in sorted(p.tables.items())
                    ],
                    "exceptions": sorted(p.exceptions),
                    "requests": p.requests,
                    "writes": p.writes,
                    "max_requests_per_window": max(p.req_windows.values(), default=0),
                    "max_writes_per_window": max(p.write_windows.values(), default=0),
                    "min_interarrival_s": round(gaps[0], 6) if gaps else None,
                    "median_interarrival_s": round(statistics.median(gaps), 6) if gaps else None,
                }
            )
        return {
            "format": PROFILE_FORMAT,
            "learned": {
                "source": source,
                "frames": self.frames,
                "first_ts": self.first_ts,
                "last_ts": self.last_ts,
            },
            "params": self.params,
            "macs": {mac_str(m): sorted(ets) for m, ets in sorted(self.macs.items())},
            "bindings": {ip_str(ip): sorted(mac_str(m) for m in macs) for ip, macs in sorted(self.bindings.items())},
            "hosts": sorted(ip_str(h) for h in self.hosts),
            "services": [
                {
                    "client": ip_str(c),
                    "server": ip_str(s),
                    "proto": PROTO_NAMES.get(p, str(p)),
                    "port": port,
                    "frames": k,
                }
                for (c, s, p, port), k in sorted(self.services.items())
            ],
            "modbus_masters": {m: sorted(f) for m, f in sorted(masters.items())},
            "modbus": modbus,
            "mqtt": [
                {"client": ip_str(c), "broker": ip_str(b), "types": sorted(t), "topics": sorted(tp)}
                for (c, b), (t, tp) in sorted(self.mqtt.items())
            ],
        }


def learn(
    frames: Iterable[tuple[float, bytes]],
    labels: dict[int, int] | None = None,
    source: str = "",
    params: dict[str, Any] | None = None,
    last_frame: int | None = None,
) -> dict[str, Any]:
    """A profile from ``frames``; with ``labels`` only from frames labelled 0 (unlabelled frames are skipped);
    with ``last_frame`` only from frames up to it."""
    learner = Learner(params)
    for no, (ts, frame) in enumerate(frames, 1):
        if last_frame is not None and no > last_frame:
            break
        if labels is not None and labels.get(no, 1) != 0:
            continue
        learner.feed(ts, frame)
    return learner.profile(source)


# --------------------------------------------------------------------------------------- detection


@dataclass
class Alert:
    rule: str
    severity: str
    src: str
    dst: str
    detail: str
    first_ts: float
    last_ts: float
    frames: list[int]
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "src": self.src,
            "dst": self.dst,
            "detail": self.detail,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "frames": self.frames,
            "count": self.count,
        }


class ProfileError(ValueError):
    pass


class Detector:
    """Checks frames one at a time (``check``) and keeps the verdict per frame and the alerts."""

    def __init__(self, profile: dict[str, Any]) -> None:
        if profile.get("format") != PROFILE_FORMAT:
            raise ProfileError("not a chaoyun IDS profile")
        try:
            self._load(profile)
        except (KeyError, TypeError, ValueError, OSError, AttributeError) as exc:
            raise ProfileError(f"profile is damaged: {exc}") from exc
        self.alerts: list[Alert] = []
        self._open: dict[tuple[str, str, str, str], Alert] = {}
        self.flagged = 0
        self.frames = 0

    def _load(self, p: dict[str, Any]) -> None:
        params = {**PARAMS, **p.get("params", {})}
        self.modbus_ports = frozenset(int(x) for x in params["modbus_ports"])
        self.mqtt_ports = frozenset(int(x) for x in params["mqtt_ports"])
        self.req_w = float(params["request_window_s"])
        self.write_w = float(params["write_window_s"])
        self.gap = float(params["alert_gap_s"])
        self.group_ports = frozenset(int(x) for x in params["group_udp_ports_allowed"])
        self.timeout = float(params["response_timeout_s"])
        for value in (self.req_w, self.write_w, self.gap, self.timeout):
            if not 0 < value < 1e6:
                raise ValueError("windows, gap and timeout must be positive seconds")
        aton = socket.inet_aton
        self.macs = {_mac_bytes(m): frozenset(ets) for m, ets in p["macs"].items()}
        self.bindings = {aton(ip): frozenset(_mac_bytes(m) for m in macs) for ip, macs in p["bindings"].items()}
        self.hosts = frozenset(aton(h) for h in p["hosts"])
        inv = {v: k for k, v in PROTO_NAMES.items()}
        self.services = frozenset(
            (aton(s["client"]), aton(s["server"]), inv.get(s["proto"]) or int(s["proto"]), int(s["port"]))
            for s in p["services"]
        )
        self.group_services = frozenset((s, p, port) for _c, s, p, port in self.services if _is_group(s))
        self.masters = {aton(m): frozenset(f) for m, f in p["modbus_masters"].items()}
        self.pairs: dict[tuple[bytes, bytes], dict[str, Any]] = {}
        for e in p["modbus"]:
            self.pairs[(aton(e["master"]), aton(e["slave"]))] = {
                "units": frozenset(e["units"]),
                "functions": frozenset(e["functions"]),
                "tables": {(t["unit"], t["table"]): (t["first"], t["last"]) for t in e["tables"]},
                "exceptions": frozenset(e["exceptions"]),
                "req_limit": _limit(int(e["max_requests_per_window"])),
                "write_limit": _limit(int(e["max_writes_per_window"])),
            }
        self.mqtt = {
            (aton(e["client"]), aton(e["broker"])): (frozenset(e["types"]), frozenset(e["topics"])) for e in p["mqtt"]
        }
        self._pending: dict[tuple[bytes, int, bytes, int, int], tuple[int, float, list[Any]]] = {}
        self._answered: dict[tuple[bytes, int, bytes, int, int], tuple[int, float, list[Any]]] = {}
        self._flow_ok: set[tuple[bytes, bytes, bytes, int, int, int]] = set()
        self._req_ok: set[tuple[bytes, bytes, int, int, bytes]] = set()  # requests that passed the static checks
        self._counts: dict[tuple[bytes, bytes, int, bool], int] = {}
        self._carry: dict[tuple[bytes, int, bytes, int], bytes] = {}
        self._last_prune = 0.0
        self._t0 = -1.0  # time of the first Modbus payload seen

    # -- alerts

    def _hit(
        self, no: int, ts: float, rule: str, src: str, dst: str, detail: str, key: str = ""
    ) -> tuple[str, str, str, str]:
        k = (rule, src, dst, key or detail)
        a = self._open.get(k)
        if a is None or ts - a.last_ts > self.gap:
            a = Alert(rule, RULES[rule], src, dst, detail, ts, ts, [no], 1)
            self._open[k] = a
            self.alerts.append(a)
        else:
            self._join(no, ts, a)
        return k

    @staticmethod
    def _join(no: int, ts: float, a: Alert) -> None:
        a.last_ts = ts
        if a.frames[-1] != no:
            a.count += 1
            if len(a.frames) < MAX_ALERT_FRAMES:
                a.frames.append(no)

    # -- per frame

    def check(self, no: int, ts: float, frame: bytes) -> bool:
        """True when frame ``no`` breaks a rule (the alerts record which)."""
        self.frames += 1
        if self._check(no, ts, frame):
            self.flagged += 1
            return True
        return False

    def _check(self, no: int, ts: float, frame: bytes) -> bool:
        kind, smac, et, src, dst, proto, sport, dport, flags, payload = decode(frame)
        hit = False
        if kind == 2:
            # Fast path: a conversation already checked from this card (MAC, hosts, binding, service all known).
            fkey = (smac, src, dst, proto, sport, dport)
            if fkey in self._flow_ok:
                if proto == 6:
                    if flags != 0x18 and flags != 0x10 and _bad_tcp_flags(flags):
                        self._hit(no, ts, "tcp_flags", ip_str(src), ip_str(dst), f"TCP flags 0x{flags:02x}")
                        hit = True
                    if payload:
                        if dport in self.modbus_ports:
                            hit = self._modbus(no, ts, src, sport, dst, dport, True, payload) or hit
                        elif sport in self.modbus_ports:
                            hit = self._modbus(no, ts, dst, dport, src, sport, False, payload) or hit
                        elif dport in self.mqtt_ports:
                            hit = self._mqtt(no, ts, src, dst, payload) or hit
                return hit
        if kind == 0:
            self._hit(no, ts, "malformed_frame", "", "", "frame shorter than an Ethernet header")
            return True
        zero = smac == b"\0\0\0\0\0\0"
        if not zero:
            ets = self.macs.get(smac)
            if ets is None:
                self._hit(no, ts, "unknown_mac", mac_str(smac), "", f"source MAC {mac_str(smac)}")
                hit = True
            elif et not in ets and et != 0x0806 and not (et == 0x86DD and frame[0] == 0x33):
                # Every IPv4 host speaks ARP, and IPv6 link-local multicast (neighbour discovery, DHCPv6) comes and
                # goes with the operating system: both allowed from a known card; IPv6 unicast is not.
                self._hit(no, ts, "unknown_protocol", mac_str(smac), "", f"ethertype 0x{et:04x}")
                hit = True
        if kind == 1:
            if et == 0x0806 and src and src != b"\0\0\0\0":
                macs = self.bindings.get(src)
                if macs is not None and payload not in macs:
                    s = ip_str(src)
                    self._hit(no, ts, "ip_mac_mismatch", s, "", f"ARP says {s} is at {mac_str(payload)}")
                    hit = True
            return hit
        if kind == 3:
            self._hit(
                no,
                ts,
                "malformed_frame",
                ip_str(src) if src else "",
                ip_str(dst) if dst else "",
                "IPv4 header inconsistent",
            )
            return True
        if not zero:
            macs = self.bindings.get(src)
            if macs is not None and smac not in macs:
                s = ip_str(src)
                self._hit(no, ts, "ip_mac_mismatch", s, "", f"{s} sent from {mac_str(smac)}")
                hit = True
        group = _is_group(dst)
        hosts = self.hosts
        if (src not in hosts and not (group and src == b"\0\0\0\0")) or (dst not in hosts and not group):
            unknown = src if src not in hosts else dst
            self._hit(no, ts, "unknown_host", ip_str(src), ip_str(dst), f"host {ip_str(unknown)} not in the profile")
            return True
        if sport < 0:
            return hit
        services = self.services
        if group:
            known = (dst, proto, dport) in self.group_services or (
                (proto == 17 and dport in self.group_ports) or proto == 2
            )
        else:
            known = (src, dst, proto, dport) in services or (dst, src, proto, sport) in services
        if not known:
            if (src, dst, proto, sport) in services or dport > sport:
                server, port, client = src, sport, dst
            else:
                server, port, client = dst, dport, src
            pname = PROTO_NAMES.get(proto, str(proto))
            self._hit(no, ts, "unknown_flow", ip_str(client), ip_str(server), f"{pname}/{port}", key=f"{pname}/{port}")
            return True
        if not hit:
            if len(self._flow_ok) > 100_000:
                self._flow_ok.clear()
            self._flow_ok.add((smac, src, dst, proto, sport, dport))
        if proto == 6:
            if _bad_tcp_flags(flags):
                self._hit(no, ts, "tcp_flags", ip_str(src), ip_str(dst), f"TCP flags 0x{flags:02x}")
                hit = True
            if payload:
                if dport in self.modbus_ports:
                    hit = self._modbus(no, ts, src, sport, dst, dport, True, payload) or hit
                elif sport in self.modbus_ports:
                    hit = self._modbus(no, ts, dst, dport, src, sport, False, payload) or hit
                elif dport in self.mqtt_ports:
                    hit = self._mqtt(no, ts, src, dst, payload) or hit
        return hit

    def _modbus(
        self, no: int, ts: float, master: bytes, mport: int, slave: bytes, sport: int, request: bool, payload: bytes
    ) -> bool:
        hit = False
        ck = (master, mport, slave, sport) if request else (slave, sport, master, mport)
        carried = self._carry.pop(ck, None)
        if carried is not None:
            payload = carried + payload
        m, s = ip_str, ip_str
        pair = self.pairs.get((master, slave))
        if self._t0 < 0:
            self._t0 = ts
        if ts - self._last_prune > self.timeout:
            self._prune(ts)
        pending = self._pending
        answered = self._answered
        try:
            for tid, unit, fc, pdu in mb.adus(payload):
                if request:
                    keys: list[tuple[str, str, str, str]] = []
                    pending[(master, mport, slave, sport, tid)] = (fc, ts, keys)
                    rkey_static = (master, slave, unit, fc, pdu)
                    # The same request as one already checked (polls repeat): only the rates below.
                    cached = pair is not None and rkey_static in self._req_ok
                    spans = None if cached else mb.request_spans(fc, pdu)
                    if pair is None:
                        keys.append(
                            self._hit(
                                no,
                                ts,
                                "modbus_function",
                                m(master),
                                s(slave),
                                f"fc {fc} ({mb.FUNCTION_NAMES.get(fc, 'unknown')}); no Modbus learned for this pair",
                                key=f"fc{fc}",
                            )
                        )
                        hit = True
                        continue
                    if spans is not None:
                        if unit not in pair["units"]:
                            keys.append(
                                self._hit(no, ts, "modbus_unit", m(master), s(slave), f"unit {unit}", key=f"u{unit}")
                            )
                            hit = True
                        if fc not in pair["functions"] and (fc not in self.masters.get(master, ()) or not spans):
                            keys.append(
                                self._hit(
                                    no,
                                    ts,
                                    "modbus_function",
                                    m(master),
                                    s(slave),
                                    f"fc {fc} ({mb.FUNCTION_NAMES.get(fc, 'unknown')})",
                                    key=f"fc{fc}",
                                )
                            )
                            hit = True
                            spans = []
                        tables = pair["tables"]
                        for table, lo, hi, write in spans:
                            hull = tables.get((unit, table))
                            if hull is None or lo < hull[0] or hi > hull[1]:
                                verb = "write" if write else "read"
                                name = table.replace("_", " ")
                                where = f"{name} {lo}-{hi}" if hi != lo else f"{name} {lo}"
                                learned = f"learned {hull[0]}-{hull[1]}" if hull else "table not learned"
                                keys.append(
                                    self._hit(
                                        no,
                                        ts,
                                        "modbus_address",
                                        m(master),
                                        s(slave),
                                        f"fc {fc} {verb} {where} on unit {unit} ({learned})",
                                        key=f"{unit}{table}{verb}",
                                    )
                                )
                                hit = True
                        if not keys:
                            if len(self._req_ok) > 100_000:
                                self._req_ok.clear()
                            self._req_ok.add(rkey_static)
                    ckey = (master, slave, int(ts / self.req_w), False)
                    c = self._counts.get(ckey, 0) + 1
                    self._counts[ckey] = c
                    if c > pair["req_limit"]:
                        keys.append(
                            self._hit(
                                no,
                                ts,
                                "modbus_request_rate",
                                m(master),
                                s(slave),
                                f"more than {pair['req_limit']} requests in {self.req_w:g} s",
                                key="rate",
                            )
                        )
                        hit = True
                    if fc in mb.WRITE_FCS:
                        wkey = (master, slave, int(ts / self.write_w), True)
                        c = self._counts.get(wkey, 0) + 1
                        self._counts[wkey] = c
                        if c > pair["write_limit"]:
                            keys.append(
                                self._hit(
                                    no,
                                    ts,
                                    "modbus_write_rate",
                                    m(master),
                                    s(slave),
                                    f"more than {pair['write_limit']} writes in {self.write_w:g} s",
                                    key="wrate",
                                )
                            )
                            hit = True
                else:
                    rkey = (master, mport, slave, sport, tid)
                    req = pending.pop(rkey, None)
                    if req is None:
                        req = answered.get(rkey)  # a retransmitted response
                    else:
                        answered[rkey] = req
                    if req is not None and req[2]:
                        # The response belongs to a flagged request: it joins the request's alerts.
                        for k in req[2]:
                            alert = self._open.get(k)
                            if alert is not None:
                                self._join(no, ts, alert)
                        hit = True
                    if req is None and ts - self._t0 < STARTUP_GRACE_S:
                        pass  # the capture began between a request and its response
                    elif req is None or req[0] != fc & 0x7F:
                        why = "no request with this transaction id" if req is None else f"request was fc {req[0]}"
                        self._hit(
                            no,
                            ts,
                            "modbus_unmatched",
                            s(slave),
                            m(master),
                            f"response tid {tid} fc {fc}: {why}",
                            key="unmatched",
                        )
                        hit = True
                    code = mb.check_response(fc, pdu)
                    if code is not None and (pair is None or code not in pair["exceptions"]):
                        self._hit(
                            no,
                            ts,
                            "modbus_exception",
                            s(slave),
                            m(master),
                            f"exception {code} to fc {fc & 0x7F}",
                            key=f"x{code}",
                        )
                        hit = True
        except mb.Malformed as exc:
            if exc.why == "partial" and len(payload) < 260:
                self._carry[ck] = payload[self._consumed(payload) :]
            else:
                src, dst = (master, slave) if request else (slave, master)
                self._hit(no, ts, "modbus_malformed", ip_str(src), ip_str(dst), exc.why, key="malformed")
                hit = True
        return hit

    @staticmethod
    def _consumed(payload: bytes) -> int:
        pos = 0
        while len(payload) - pos >= 6:
            end = pos + 6 + ((payload[pos + 4] << 8) | payload[pos + 5])
            if end > len(payload):
                break
            pos = end
        return pos

    def _prune(self, ts: float) -> None:
        self._last_prune = ts
        cutoff = ts - self.timeout
        self._pending = {k: v for k, v in self._pending.items() if v[1] >= cutoff}
        self._answered = {k: v for k, v in self._answered.items() if v[1] >= cutoff}
        rw, ww = int(ts / self.req_w) - 1, int(ts / self.write_w) - 1
        self._counts = {k: v for k, v in self._counts.items() if k[2] >= (ww if k[3] else rw)}
        if len(self._open) > 10000:
            self._open = {k: a for k, a in self._open.items() if ts - a.last_ts <= self.gap}

    def _mqtt(self, no: int, ts: float, client: bytes, broker: bytes, payload: bytes) -> bool:
        learned = self.mqtt.get((client, broker))
        c, b = ip_str(client), ip_str(broker)
        hit = False
        try:
            for ptype, topics in mb.mqtt_packets(payload):
                if learned is None or ptype not in learned[0]:
                    self._hit(no, ts, "mqtt_type", c, b, mb.MQTT_TYPES.get(ptype, str(ptype)), key=f"t{ptype}")
                    hit = True
                    continue
                for t in topics:
                    if mb.topic_pattern(t) not in learned[1]:
                        self._hit(no, ts, "mqtt_topic", c, b, f"{mb.MQTT_TYPES[ptype]} {t[:120]}", key=t[:120])
                        hit = True
        except mb.Malformed as exc:
            self._hit(no, ts, "mqtt_malformed", c, b, exc.why, key="malformed")
            hit = True
        return hit


def scan(frames: Iterable[tuple[float, bytes]], profile: dict[str, Any]) -> tuple[bytearray, list[Alert]]:
    """Verdicts (one byte per frame, index 0 = frame 1) and the alerts."""
    det = Detector(profile)
    verdicts = bytearray()
    append = verdicts.append
    check = det._check
    for no, (ts, frame) in enumerate(frames, 1):
        append(1 if check(no, ts, frame) else 0)
    return verdicts, det.alerts


def load_profile(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProfileError(f"profile is not JSON: {exc}") from exc
    return load_profile_dict(data)


def load_profile_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
        raise ProfileError("not a chaoyun IDS profile")
    Detector(data)  # validates
    return data


# --------------------------------------------------------------------------------------- labels and scores


def read_labels(text: str) -> dict[int, int]:
    """``frame;label`` lines (a header line is skipped; ``,`` also accepted)."""
    out: dict[int, int] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.replace(",", ";").split(";")
        if len(parts) < 2 or not parts[0].strip().isdigit():
            continue
        out[int(parts[0])] = 1 if parts[1].strip() not in ("0", "") else 0
    return out


def verdict_lines(verdicts: bytes | bytearray) -> str:
    return "".join(f"{i};{v}\n" for i, v in enumerate(verdicts, 1))


@dataclass
class Score:
    frames: int
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)

    @property
    def fp_rate(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0


def score(verdicts: bytes | bytearray, labels: dict[int, int], first: int = 1, last: int | None = None) -> Score:
    tp = fp = fn = tn = 0
    last = len(verdicts) if last is None else last
    for no in range(first, last + 1):
        v = verdicts[no - 1] if no <= len(verdicts) else 0
        y = labels.get(no, 0)
        if v and y:
            tp += 1
        elif v:
            fp += 1
        elif y:
            fn += 1
        else:
            tn += 1
    return Score(last - first + 1, tp, fp, fn, tn)
