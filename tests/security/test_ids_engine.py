"""The intrusion detector's reader, learner and rules on captures written in the test (struct-built frames)."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaoyun.security.ids import engine, modbus, pcap, synth

START = 1_767_225_600.0
LATER = START + 3600


@pytest.fixture(scope="module")
def profile() -> dict:
    return engine.learn(synth.plant(600, START))


def frames_of(labelled: list[tuple[float, bytes, int]]) -> list[tuple[float, bytes]]:
    return [(t, f) for t, f, _ in labelled]


def scan_scenario(profile: dict, name: str) -> tuple[bytearray, list[engine.Alert], list[int]]:
    data = synth.mixed(120, LATER, (name,))
    verdicts, alerts = engine.scan(frames_of(data), profile)
    attack = [i + 1 for i, (_t, _f, y) in enumerate(data) if y]
    return verdicts, alerts, attack


def rules_on(alerts: list[engine.Alert], frames: list[int]) -> set[str]:
    wanted = set(frames)
    return {a.rule for a in alerts if wanted & set(a.frames)}


# ---------------------------------------------------------------- reader


def test_pcap_and_pcapng_give_the_same_frames(tmp_path: Path) -> None:
    frames = synth.plant(20, START)
    classic = tmp_path / "a.pcap"
    pcap.write_pcap(str(classic), frames)
    # pcapng: section header, one interface (nanosecond resolution), enhanced packet blocks.
    out = io.BytesIO()
    shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    out.write(struct.pack("<II", 0x0A0D0D0A, 12 + len(shb_body)) + shb_body + struct.pack("<I", 12 + len(shb_body)))
    opt = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
    idb_body = struct.pack("<HHI", 1, 0, 65535) + opt
    out.write(struct.pack("<II", 1, 12 + len(idb_body)) + idb_body + struct.pack("<I", 12 + len(idb_body)))
    for ts, fr in frames:
        tick = round(ts * 1e9)
        pad = (-len(fr)) % 4
        body = struct.pack("<IIIII", 0, tick >> 32, tick & 0xFFFFFFFF, len(fr), len(fr)) + fr + b"\0" * pad
        out.write(struct.pack("<II", 6, 12 + len(body)) + body + struct.pack("<I", 12 + len(body)))
    ng = list(pcap.iter_frames(io.BytesIO(out.getvalue())))
    with classic.open("rb") as f:
        cl = list(pcap.iter_frames(f))
    assert len(cl) == len(ng) == len(frames)
    assert [f for _, f in cl] == [f for _, f in ng] == [f for _, f in frames]
    assert all(abs(a[0] - b[0]) < 1e-5 for a, b in zip(cl, ng, strict=True))


def test_big_endian_nanosecond_pcap_and_stream_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = synth.plant(5, START)
    buf = io.BytesIO()
    buf.write(struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
    for ts, fr in frames:
        sec = int(ts)
        buf.write(struct.pack(">IIII", sec, round((ts - sec) * 1e9), len(fr), len(fr)) + fr)
    monkeypatch.setattr(pcap, "CHUNK", 37)  # records split across reads, as from a pipe
    got = list(pcap.iter_frames(io.BytesIO(buf.getvalue())))
    assert [f for _, f in got] == [f for _, f in frames]
    assert abs(got[-1][0] - frames[-1][0]) < 1e-6


def test_not_a_capture_is_refused() -> None:
    with pytest.raises(pcap.CaptureError):
        list(pcap.iter_frames(io.BytesIO(b"hello, this is not a capture")))


# ---------------------------------------------------------------- learning


def test_profile_learns_hosts_conversations_and_modbus(profile: dict) -> None:
    assert set(profile["hosts"]) == {synth.HMI, *synth.PLCS}
    services = {(s["client"], s["server"], s["proto"], s["port"]) for s in profile["services"]}
    assert (synth.HMI, synth.PLCS[0], "tcp", 502) in services
    assert (synth.HMI, "192.168.10.255", "udp", 138) in services
    pair = next(p for p in profile["modbus"] if p["slave"] == synth.PLCS[0])
    assert pair["master"] == synth.HMI and pair["units"] == [1] and pair["functions"] == [1, 3, 6]
    tables = {(t["table"], t["first"], t["last"]) for t in pair["tables"]}
    assert tables == {("coils", 0, 7), ("holding_registers", 0, 9)}
    assert pair["max_writes_per_window"] >= 1 and pair["median_interarrival_s"] > 0
    assert json.loads(json.dumps(profile)) == profile  # plain JSON


def test_normal_traffic_of_another_hour_raises_nothing(profile: dict) -> None:
    verdicts, alerts = engine.scan(synth.plant(300, LATER), profile)
    assert alerts == [] and sum(verdicts) == 0


def test_labels_keep_attacks_out_of_the_profile() -> None:
    data = synth.mixed(200, START, ("slave_as_master",))
    labels = {i + 1: y for i, (_t, _f, y) in enumerate(data)}
    learned = engine.learn(frames_of(data), labels)
    assert not any(s["client"] == synth.PLCS[1] and s["port"] == 502 for s in learned["services"])
    unlabelled = engine.learn(frames_of(data))
    assert any(s["client"] == synth.PLCS[1] and s["port"] == 502 for s in unlabelled["services"])


# ---------------------------------------------------------------- each attack


def test_unknown_host(profile: dict) -> None:
    verdicts, alerts, attack = scan_scenario(profile, "unknown_host")
    assert all(verdicts[i - 1] for i in attack)
    assert {"unknown_host", "unknown_mac"} <= rules_on(alerts, attack)
    a = next(a for a in alerts if a.rule == "unknown_host")
    assert a.src == synth.ATTACKER and a.frames[0] == attack[0]


def test_write_to_an_unlearned_register(profile: dict) -> None:
    _verdicts, alerts, attack = scan_scenario(profile, "write_unlearned_register")
    assert [a.rule for a in alerts] == ["modbus_address"]
    assert alerts[0].frames == attack  # the request and its response
    assert "holding registers 400" in alerts[0].detail and "learned 0-9" in alerts[0].detail


def test_new_function_code(profile: dict) -> None:
    _verdicts, alerts, attack = scan_scenario(profile, "new_function_code")
    assert [a.rule for a in alerts] == ["modbus_function"]
    assert alerts[0].frames == attack and "diagnostics" in alerts[0].detail


def test_burst_of_writes(profile: dict) -> None:
    verdicts, alerts, attack = scan_scenario(profile, "write_burst")
    assert {"modbus_write_rate", "modbus_request_rate"} <= {a.rule for a in alerts}
    burst = next(a for a in alerts if a.rule == "modbus_write_rate")
    assert len(set(burst.frames) & set(attack)) >= len(attack) // 2
    # Normal frames inside the burst's windows (polls of that second, a scheduled write of those 10 s) are flagged
    # too: a rate rule cannot tell them apart.
    assert len(set(burst.frames) - set(attack)) <= 2
    flagged_normal = [i + 1 for i, v in enumerate(verdicts) if v and i + 1 not in attack]
    assert len(flagged_normal) <= 6


def test_malformed_mbap(profile: dict) -> None:
    _verdicts, alerts, attack = scan_scenario(profile, "malformed_mbap")
    assert [a.rule for a in alerts] == ["modbus_malformed"]
    assert alerts[0].frames == attack and "protocol id 7" in alerts[0].detail


def test_field_device_acting_as_master(profile: dict) -> None:
    verdicts, alerts, attack = scan_scenario(profile, "slave_as_master")
    assert [a.rule for a in alerts] == ["unknown_flow"]
    assert alerts[0].frames == attack and all(verdicts[i - 1] for i in attack)
    assert (alerts[0].src, alerts[0].dst, alerts[0].detail) == (synth.PLCS[1], synth.PLCS[0], "tcp/502")


def test_arp_spoofing(profile: dict) -> None:
    _verdicts, alerts, attack = scan_scenario(profile, "arp_spoof")
    assert "ip_mac_mismatch" in rules_on(alerts, attack)


def test_all_scenarios_together_score(profile: dict) -> None:
    data = synth.mixed(300, LATER)
    verdicts, _alerts = engine.scan(frames_of(data), profile)
    s = engine.score(verdicts, {i + 1: y for i, (_t, _f, y) in enumerate(data)})
    assert s.recall is not None and s.recall > 0.85
    assert s.precision is not None and s.precision > 0.95


def test_unmatched_response_and_new_exception(profile: dict) -> None:
    injected = synth.tcp(synth.PLCS[0], synth.HMI, 502, 49152, 0x18, synth.mbap(4242, 1, 3, b"\x02\x00\x01"))
    exc = synth.tcp(synth.PLCS[0], synth.HMI, 502, 49152, 0x18, synth.mbap(4243, 1, 0x83, b"\x02"))
    frames = [*synth.plant(5, LATER), (LATER + 6, injected), (LATER + 6.1, exc)]
    _verdicts, alerts = engine.scan(frames, profile)
    rules = {a.rule: a for a in alerts}
    assert rules["modbus_unmatched"].frames[0] == len(frames) - 1
    assert rules["modbus_exception"].frames == [len(frames)]


def test_request_parsing_checks_lengths() -> None:
    assert modbus.request_spans(3, struct.pack("!HH", 10, 5)) == [("holding_registers", 10, 14, False)]
    assert modbus.request_spans(15, struct.pack("!HHB", 0, 10, 2) + b"\xff\x03") == [("coils", 0, 9, True)]
    for fc, pdu in (
        (3, struct.pack("!HH", 0, 200)),
        (16, struct.pack("!HHB", 0, 2, 3) + b"\0\0\0"),
        (5, b"\0\0\x12\x34"),
    ):
        with pytest.raises(modbus.Malformed):
            modbus.request_spans(fc, pdu)


def test_mqtt_topics(profile: dict) -> None:
    def pub(topic: str) -> bytes:
        body = struct.pack("!H", len(topic)) + topic.encode() + b"42"
        return bytes([0x30, len(body)]) + body

    def seg(ts: float, payload: bytes, flags: int = 0x18) -> tuple[float, bytes]:
        return ts, synth.tcp(synth.PLCS[2], synth.HMI, 50000, 1883, flags, payload)

    normal = [seg(START + 0.5, b"", 0x02)] + [seg(START + k, pub(f"plant/line1/m{k % 3}/temp")) for k in range(1, 30)]
    prof = engine.learn(normal)
    assert prof["mqtt"][0]["topics"] == ["plant/line1/m0/temp", "plant/line1/m1/temp", "plant/line1/m2/temp"]
    odd = [
        seg(LATER, pub("plant/line1/m1/temp")),
        seg(LATER + 1, pub("plant/line1/m9/cmd")),
        seg(LATER + 2, bytes([0x82, 6, 0, 1, 0, 1, ord("#"), 0])),
        seg(LATER + 3, b"\x00\x00"),
    ]
    verdicts, alerts = engine.scan(odd, prof)
    assert list(verdicts) == [0, 1, 1, 1]
    assert [a.rule for a in alerts] == ["mqtt_topic", "mqtt_type", "mqtt_malformed"]


# ---------------------------------------------------------------- command line


def test_cli_learn_and_scan_write_verdicts_in_the_labels_format(tmp_path: Path) -> None:
    from chaoyun.cli import app

    data = synth.mixed(200, START, ("unknown_host", "new_function_code"))
    cap = tmp_path / "cap.pcap"
    pcap.write_pcap(str(cap), frames_of(data))
    labels = tmp_path / "labels.csv"
    labels.write_text("".join(f"{i + 1};{y}\n" for i, (_t, _f, y) in enumerate(data)))
    runner = CliRunner()
    r = runner.invoke(app, ["ids", "learn", str(cap), "--labels", str(labels), "--out", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        [
            "ids",
            "scan",
            str(cap),
            "--profile",
            str(tmp_path / "p.json"),
            "--out",
            str(tmp_path / "v.csv"),
            "--labels",
            str(labels),
            "--alerts",
            str(tmp_path / "a.json"),
        ],
    )
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "v.csv").read_text().splitlines()
    assert len(lines) == len(data) and lines[0] == "1;0"
    got = {int(a): int(b) for a, b in (ln.split(";") for ln in lines)}
    assert got == {i + 1: y for i, (_t, _f, y) in enumerate(data)}
    assert "precision 1.000 recall 1.000" in r.output
    assert {a["rule"] for a in json.loads((tmp_path / "a.json").read_text())} >= {"unknown_host", "modbus_function"}


def test_cli_refuses_a_bad_profile(tmp_path: Path) -> None:
    from chaoyun.cli import app

    cap = tmp_path / "cap.pcap"
    pcap.write_pcap(str(cap), synth.plant(3, START))
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    r = CliRunner().invoke(app, ["ids", "scan", str(cap), "--profile", str(tmp_path / "bad.json")])
    assert r.exit_code != 0 and "not a chaoyun IDS profile" in r.output


def test_damaged_pcapng_is_a_capture_error() -> None:
    shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    shb = struct.pack("<II", 0x0A0D0D0A, 12 + len(shb_body)) + shb_body + struct.pack("<I", 12 + len(shb_body))
    epb_too_short = struct.pack("<III", 6, 12, 12)
    with pytest.raises(pcap.CaptureError):
        list(pcap.iter_frames(io.BytesIO(shb + epb_too_short)))


def test_discovery_chatter_of_known_hosts_is_not_an_attack(profile: dict) -> None:
    llmnr = synth.udp(synth.HMI, "224.0.0.252", 51000, 5355, b"\0" * 30)
    ssdp_unknown = synth.udp(synth.ATTACKER, "239.255.255.250", 51000, 1900, b"\0" * 30)
    v6_multicast = b"\x33\x33\x00\x01\x00\x02" + synth.mac_of(synth.HMI) + b"\x86\xdd" + b"\x60" + b"\0" * 39
    v6_unicast = synth.mac_of(synth.PLCS[0]) + synth.mac_of(synth.HMI) + b"\x86\xdd" + b"\x60" + b"\0" * 39
    frames = [(LATER, llmnr), (LATER + 1, v6_multicast), (LATER + 2, v6_unicast), (LATER + 3, ssdp_unknown)]
    verdicts, alerts = engine.scan(frames, profile)
    assert list(verdicts) == [0, 0, 1, 1]
    assert {a.rule for a in alerts} == {"unknown_protocol", "unknown_host", "unknown_mac"}


def test_a_capture_starting_between_request_and_response(profile: dict) -> None:
    normal = synth.plant(10, LATER)
    late_response = synth.tcp(synth.PLCS[0], synth.HMI, 502, 49152, 0x18, synth.mbap(777, 1, 3, b"\x02\x00\x01"))
    verdicts, alerts = engine.scan([(LATER - 0.001, late_response), *normal], profile)
    assert sum(verdicts) == 0 and alerts == []


def test_live_capture_on_loopback() -> None:
    """AF_PACKET on the loopback interface (needs root or CAP_NET_RAW; skipped otherwise)."""
    import socket
    import threading
    import time

    try:
        frames = pcap.live_frames("lo")
        probe = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        probe.close()
    except (PermissionError, OSError, AttributeError) as exc:
        pytest.skip(f"no raw socket here: {exc}")

    def send() -> None:
        for _ in range(20):
            time.sleep(0.1)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"ids-live-probe", ("127.0.0.1", 9599))

    threading.Thread(target=send, daemon=True).start()
    for _ts, frame in frames:
        d = engine.decode(frame)
        if d[0] == 2 and d[5] == 17 and d[7] == 9599:
            assert d[9] == b"ids-live-probe"
            break
    frames.close()
