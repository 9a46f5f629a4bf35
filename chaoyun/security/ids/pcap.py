"""Capture readers: classic pcap (µs and ns, either byte order) and pcapng, from a file or a stream (a
``tcpdump -w -`` pipe), plus a live AF_PACKET socket on Linux.

Hand-written on purpose: a scan reads every record header and only slices the frame bytes, which keeps the
reader well under a microsecond per frame (see ``benchmarks/ids.py``). Every frame comes out as Ethernet:
Linux cooked (SLL, SLL2) and raw-IP captures get a synthetic 14-byte Ethernet header so that the detector has a
single dissector.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

CHUNK = 4 << 20

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

_ZERO_MACS = b"\0" * 12


class CaptureError(ValueError):
    """The file is not a capture this reader understands (or is cut short in its header)."""


def _to_ethernet(linktype: int, data: bytes) -> bytes:
    if linktype == LINKTYPE_ETHERNET:
        return data
    if linktype == LINKTYPE_LINUX_SLL:
        return _ZERO_MACS + data[14:]
    if linktype == LINKTYPE_LINUX_SLL2:
        return _ZERO_MACS + data[0:2] + data[20:]
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        version = data[0] >> 4 if data else 4
        return _ZERO_MACS + (b"\x86\xdd" if version == 6 else b"\x08\x00") + data
    raise CaptureError(f"unsupported link type {linktype}")


def iter_frames(f: BinaryIO) -> Iterator[tuple[float, bytes]]:
    """Yield ``(timestamp_s, ethernet_frame)`` for every captured frame, in file order (frame 1 first)."""
    data = f.read(CHUNK)
    if len(data) < 4:
        if not data:
            return
        raise CaptureError("file too short for a capture header")
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        try:
            yield from _iter_pcapng(f, data)
        except (struct.error, IndexError) as exc:
            raise CaptureError(f"pcapng block too short for its type: {exc}") from exc
        return
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise CaptureError("not a pcap or pcapng file")
    scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
    while len(data) < 24:
        more = f.read(CHUNK)
        if not more:
            raise CaptureError("capture header cut short")
        data += more
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    if linktype not in (
        LINKTYPE_ETHERNET,
        LINKTYPE_RAW,
        LINKTYPE_LINUX_SLL,
        LINKTYPE_LINUX_SLL2,
        LINKTYPE_IPV4,
        LINKTYPE_IPV6,
    ):
        raise CaptureError(f"unsupported link type {linktype}")
    ethernet = linktype == LINKTYPE_ETHERNET
    unpack = struct.Struct(endian + "IIII").unpack_from
    read = f.read
    pos = 24
    n = len(data)
    while True:
        if n - pos < 16:
            more = read(CHUNK)
            if not more:
                return  # a record header cut short at the end (a capture still being written): stop there
            data = data[pos:] + more
            pos = 0
            n = len(data)
            continue
        sec, frac, incl, _orig = unpack(data, pos)
        end = pos + 16 + incl
        if end > n:
            more = read(max(CHUNK, incl))
            if not more:
                return
            data = data[pos:] + more
            pos = 0
            n = len(data)
            continue
        frame = data[pos + 16 : end]
        yield sec + frac * scale, (frame if ethernet else _to_ethernet(linktype, frame))
        pos = end


def _iter_pcapng(f: BinaryIO, data: bytes) -> Iterator[tuple[float, bytes]]:
    pos = 0
    n = len(data)
    endian = "<"
    ifaces: list[tuple[int, float]] = []  # (linktype, seconds per tick)
    read = f.read
    while True:
        if n - pos < 12:
            more = read(CHUNK)
            if not more:
                return
            data = data[pos:] + more
            pos = 0
            n = len(data)
            continue
        btype_raw = data[pos : pos + 4]
        if btype_raw == b"\x0a\x0d\x0d\x0a":  # section header: byte order may change
            bom = data[pos + 8 : pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                raise CaptureError("pcapng section header with a bad byte-order magic")
            ifaces = []
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if blen < 12 or blen % 4:
            raise CaptureError(f"pcapng block of bad length {blen}")
        end = pos + blen
        if end > n:
            more = read(max(CHUNK, blen))
            if not more:
                return
            data = data[pos:] + more
            pos = 0
            n = len(data)
            continue
        if btype == 6:  # enhanced packet block
            iface, hi, lo, caplen = struct.unpack_from(endian + "IIII", data, pos + 8)
            linktype, tick = ifaces[iface] if iface < len(ifaces) else (LINKTYPE_ETHERNET, 1e-6)
            frame = data[pos + 28 : pos + 28 + caplen]
            yield ((hi << 32) | lo) * tick, (frame if linktype == 1 else _to_ethernet(linktype, frame))
        elif btype == 3:  # simple packet block (no timestamp)
            orig = struct.unpack_from(endian + "I", data, pos + 8)[0]
            caplen = min(orig, blen - 16)
            linktype = ifaces[0][0] if ifaces else LINKTYPE_ETHERNET
            frame = data[pos + 12 : pos + 12 + caplen]
            yield 0.0, (frame if linktype == 1 else _to_ethernet(linktype, frame))
        elif btype == 2:  # obsolete packet block
            iface, _drops, hi, lo, caplen = struct.unpack_from(endian + "HHIII", data, pos + 8)
            linktype, tick = ifaces[iface] if iface < len(ifaces) else (LINKTYPE_ETHERNET, 1e-6)
            frame = data[pos + 28 : pos + 28 + caplen]
            yield ((hi << 32) | lo) * tick, (frame if linktype == 1 else _to_ethernet(linktype, frame))
        elif btype == 1:  # interface description
            linktype = struct.unpack_from(endian + "H", data, pos + 8)[0]
            tick = 1e-6
            opt = pos + 16
            while opt + 4 <= end - 4:
                code, olen = struct.unpack_from(endian + "HH", data, opt)
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    v = data[opt + 4]
                    tick = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0**-v
                opt += 4 + ((olen + 3) & ~3)
            ifaces.append((linktype, tick))
        pos = end


def write_pcap(path: str, frames: list[tuple[float, bytes]]) -> None:
    """A classic little-endian Ethernet pcap (tests and demos)."""
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        for ts, frame in frames:
            sec = int(ts)
            usec = round((ts - sec) * 1e6)
            out.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            out.write(frame)


def live_frames(interface: str) -> Iterator[tuple[float, bytes]]:  # pragma: no cover - needs CAP_NET_RAW
    """Frames from a live AF_PACKET socket (Linux; root or CAP_NET_RAW). ``tcpdump -i IF -U -w - | chaoyun ids
    scan -`` does the same through a pipe where a BPF filter is wanted."""
    import socket
    import time

    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind((interface, 0))
    recv = sock.recv
    now = time.time
    try:
        while True:
            frame = recv(65535)
            yield now(), frame
    finally:
        sock.close()
