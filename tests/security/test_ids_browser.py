"""The intrusion detector's main journey in Chromium: an enterprise admin learns a baseline from a capture of normal
traffic, scans a later capture, and reads the alerts with their rules explained in Chinese."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaoyun.security.ids import pcap, synth
from tests.browser.test_shell import _sign_in

START = 1_767_225_600.0


def test_learn_scan_and_read_the_alerts(page: Any, tmp_path: Path) -> None:
    normal = tmp_path / "normal.pcap"
    pcap.write_pcap(str(normal), synth.plant(300, START))
    suspect = tmp_path / "suspect.pcap"
    data = synth.mixed(120, START + 7200, ("unknown_host", "new_function_code"))
    pcap.write_pcap(str(suspect), [(t, f) for t, f, _ in data])

    _sign_in(page, "factory")
    page.goto("/security/ids")
    assert "入侵检测" in page.inner_text("h1")
    # A refused form keeps the name and says what is missing beside the field.
    page.fill("#learn-form input[name=name]", "浏览器基线")
    page.click("#learn-form button")
    page.wait_for_selector("#learn-form [data-field=capture]")
    assert page.input_value("#learn-form input[name=name]") == "浏览器基线"
    page.set_input_files("#learn-form input[name=capture]", str(normal))
    page.click("#learn-form button")
    page.wait_for_url("**/security/ids?done=learned")
    assert "已从抓包文件学习通信基线" in page.inner_text("#flash")
    page.select_option("#scan-form select[name=profile_id]", label="浏览器基线")
    page.set_input_files("#scan-form input[name=capture]", str(suspect))
    page.click("#scan-form button")
    page.wait_for_url("**/security/ids/scans/*")
    rules = page.inner_text("#alerts")
    assert "未知主机" in rules and "基线之外的 Modbus 功能码" in rules
    page.click("#alerts a >> nth=0")
    page.wait_for_url("**/security/ids/alerts/*")
    assert page.inner_text("#frames").strip()
    assert "Wireshark" in page.content()
