"""``chaoyun simulate``: run the demo enterprises' virtual machines."""

from __future__ import annotations

from datetime import UTC, datetime

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        transport: str = typer.Option("http", help="http | mqtt | inprocess"),
        url: str = typer.Option("", help="Platform base URL for http (default http://CHAOYUN_HOST:CHAOYUN_PORT)."),
        mqtt_host: str = typer.Option("127.0.0.1", help="MQTT broker host."),
        mqtt_port: int = typer.Option(1883, help="MQTT broker port."),
        interval: float = typer.Option(5.0, help="Seconds between messages of one device."),
        duration: float = typer.Option(0.0, help="Stop after this many seconds (0: run until Ctrl-C)."),
        devices: int = typer.Option(0, help="Simulate only the first N demo devices (0: all)."),
        backfill_hours: float = typer.Option(0.0, help="First send this many hours of history."),
    ) -> None:
        """Publish realistic telemetry of the demo devices (run `chaoyun demo` first)."""
        from rich.console import Console

        from chaoyun.db import get_sessionmaker
        from chaoyun.settings import get_settings
        from chaoyun.simulator import runner

        console = Console()
        with get_sessionmaker()() as db:
            devs = runner.load_devices(db, limit=devices or None)
        if not devs:
            console.print("[red]no demo devices: run `chaoyun demo` first[/red]")
            raise typer.Exit(1)
        s = get_settings()
        t: runner.Transport
        if transport == "http":
            t = runner.Http(url or f"http://{s.host}:{s.port}")
        elif transport == "mqtt":
            t = runner.Mqtt(mqtt_host, mqtt_port)
        elif transport == "inprocess":
            t = runner.InProcess()
        else:
            console.print("[red]transport must be http, mqtt or inprocess[/red]")
            raise typer.Exit(2)
        console.print(f"simulating {len(devs)} devices over {transport}, one message each every {interval:g} s")
        if backfill_hours:
            n = runner.backfill(t, devs, backfill_hours, 60.0, datetime.now(UTC))
            console.print(f"backfilled {n} points")
        try:
            total = runner.run(
                t, devs, interval, duration or None, on_tick=lambda n: console.print(f"sent {n} points", end="\r")
            )
        except KeyboardInterrupt:
            total = 0
        finally:
            if isinstance(t, runner.Mqtt):
                t.close()
        console.print(f"\ndone: {total} points")
