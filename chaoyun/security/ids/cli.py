"""``chaoyun ids learn | scan | evaluate | live``: the intrusion detector from the command line (on the gateway or
on the platform's server)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

ids_app = typer.Typer(help="Intrusion detection for Modbus/TCP and MQTT (入侵检测)", no_args_is_help=True)
console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ids_app, name="ids")


class _Counting:
    """A binary file whose reads advance a progress bar (updates per 4 MiB chunk, so it costs nothing)."""

    def __init__(self, f: BinaryIO, progress: Progress, task: Any) -> None:
        self.f, self.progress, self.task = f, progress, task

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.progress.advance(self.task, len(data))
        return data


def _frames(path: str, label: str) -> Iterator[tuple[float, bytes]]:
    from chaoyun.security.ids import pcap

    if path == "-":
        yield from pcap.iter_frames(sys.stdin.buffer)
        return
    p = Path(path)
    if not p.is_file():
        raise typer.BadParameter(f"{path}: no such file / 文件不存在")
    columns = (TextColumn(label), BarColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with (
        p.open("rb") as f,
        Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress,
    ):
        task = progress.add_task(label, total=p.stat().st_size)
        try:
            yield from pcap.iter_frames(_Counting(f, progress, task))  # type: ignore[arg-type]
        except pcap.CaptureError as exc:
            raise typer.BadParameter(f"{path}: {exc}") from exc


@ids_app.command("learn")
def learn(
    capture: str = typer.Argument(..., help="pcap or pcapng file of normal traffic ('-': standard input)."),
    out: Path = typer.Option(..., "--out", help="Where to write the profile (JSON)."),
    labels: Path | None = typer.Option(None, "--labels", help="frame;0|1 file: learn only from frames labelled 0."),
    until_frame: int = typer.Option(0, "--until-frame", min=0, help="Learn only from frames 1..N (0: all)."),
) -> None:
    """Learn an allow-list profile from normal traffic (学习正常通信基线)."""
    from chaoyun.security.ids import engine

    lab = engine.read_labels(labels.read_text(encoding="utf-8", errors="replace")) if labels else None
    profile = engine.learn(_frames(capture, "learning"), lab, source=Path(capture).name, last_frame=until_frame or None)
    out.write_text(json.dumps(profile, indent=1, ensure_ascii=False), encoding="utf-8")
    console.print(
        f"profile: {len(profile['hosts'])} hosts, {len(profile['services'])} conversations, "
        f"{len(profile['modbus'])} Modbus master→slave pairs, {len(profile['mqtt'])} MQTT clients "
        f"from {profile['learned']['frames']} frames → {out}"
    )


@ids_app.command("scan")
def scan(
    capture: str = typer.Argument(..., help="pcap or pcapng file ('-': standard input, e.g. tcpdump -U -w -)."),
    profile: Path = typer.Option(..., "--profile", help="Profile written by 'chaoyun ids learn'."),
    out: Path | None = typer.Option(None, "--out", help="Verdicts, one 'frame;0|1' line per frame."),
    alerts_out: Path | None = typer.Option(None, "--alerts", help="Alerts as JSON."),
    labels: Path | None = typer.Option(None, "--labels", help="frame;0|1 truth: print precision, recall, F1."),
    org: int = typer.Option(0, "--org", min=0, help="Store the alerts for this organisation (alarms, incidents)."),
) -> None:
    """Check every frame against the profile (按基线检测), write verdicts and list the alerts."""
    from chaoyun.security.ids import engine

    try:
        prof = engine.load_profile(profile.read_text(encoding="utf-8"))
    except (OSError, engine.ProfileError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile") from exc
    verdicts, alerts = engine.scan(_frames(capture, "scanning"), prof)
    if out:
        out.write_text(engine.verdict_lines(verdicts), encoding="ascii")
    if alerts_out:
        alerts_out.write_text(json.dumps([a.as_dict() for a in alerts], indent=1), encoding="utf-8")
    table = Table(title=f"{len(alerts)} alerts, {sum(verdicts)} of {len(verdicts)} frames flagged")
    for col in ("rule", "severity", "src", "dst", "detail", "frames"):
        table.add_column(col)
    for a in alerts[:200]:
        shown = ", ".join(str(f) for f in a.frames[:8]) + (f" … ({a.count})" if a.count > 8 else "")
        table.add_row(a.rule, a.severity, a.src, a.dst, a.detail, shown)
    Console(width=160).print(table)
    if labels:
        s = engine.score(verdicts, engine.read_labels(labels.read_text(encoding="utf-8", errors="replace")))
        typer.echo(
            f"TP {s.tp} FP {s.fp} FN {s.fn} TN {s.tn}  precision {_f(s.precision)} recall {_f(s.recall)} F1 {_f(s.f1)}"
        )
    if org:
        from chaoyun.db import get_sessionmaker
        from chaoyun.security.ids import service

        with get_sessionmaker()() as db:
            result = service.store_alerts(db, org, [a.as_dict() for a in alerts], source=Path(capture).name)
        typer.echo(
            f"stored {len(result.alert_ids)} alerts, {result.alarms} device alarms, incident {result.incident_id}"
        )


@ids_app.command("evaluate")
def evaluate(
    folder: Path = typer.Argument(Path("../shared/data/modbus"), help="Folder of labelled captures."),
) -> None:
    """Precision, recall and F1 per capture and per time split (learn the first part, scan the rest)."""
    from chaoyun.security.ids import evaluate as ev

    rows = ev.evaluate_folder(folder)
    if not rows:
        raise typer.BadParameter(f"{folder}: no capture with a labels file")
    table = Table(title="IDS evaluation (verdict per frame)")
    for col in (
        "capture",
        "split",
        "scored frames",
        "attacks",
        "TP",
        "FP",
        "FN",
        "precision",
        "recall",
        "F1",
        "FP rate",
        "rules firing",
    ):
        table.add_column(col)
    for r in rows:
        s = r.score
        table.add_row(
            r.capture[:28],
            r.split,
            r.scored,
            str(r.attacks),
            str(s.tp),
            str(s.fp),
            str(s.fn),
            ev.fmt(s.precision),
            ev.fmt(s.recall),
            ev.fmt(s.f1),
            f"{s.fp_rate:.5f}",
            ", ".join(f"{k}:{v}" for k, v in sorted(r.rules.items())),
        )
    Console(width=220).print(table)


@ids_app.command("live")
def live(  # pragma: no cover - needs a capture interface and CAP_NET_RAW
    interface: str = typer.Option(..., "--interface", help="Capture interface (AF_PACKET), e.g. eth1."),
    profile: Path = typer.Option(..., "--profile"),
    org: int = typer.Option(0, "--org", min=0, help="Store alerts directly (gateway with database access)."),
    post: str = typer.Option("", "--post", help="Platform URL to post alerts to (…/api/v1/security/ids/alerts)."),
    token: str = typer.Option("", "--token", envvar="CHAOYUN_TOKEN", help="API token with write scope."),
    every: float = typer.Option(5.0, "--every", help="Seconds between reports of new alerts."),
) -> None:
    """Watch an interface live and report alerts as they happen (JSON lines on stdout)."""
    import time

    from chaoyun.security.ids import engine, pcap

    det = engine.Detector(engine.load_profile(profile.read_text(encoding="utf-8")))
    reported = 0
    last = time.monotonic()
    for no, (ts, frame) in enumerate(pcap.live_frames(interface), 1):
        det.check(no, ts, frame)
        if time.monotonic() - last < every or len(det.alerts) == reported:
            continue
        last = time.monotonic()
        new = [a.as_dict() for a in det.alerts[reported:]]
        reported = len(det.alerts)
        for a in new:
            print(json.dumps(a), flush=True)
        if post:
            import httpx

            httpx.post(
                post,
                json={"source": f"live:{interface}", "alerts": new},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
        elif org:
            from chaoyun.db import get_sessionmaker
            from chaoyun.security.ids import service

            with get_sessionmaker()() as db:
                service.store_alerts(db, org, new, source=f"live:{interface}")


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"
