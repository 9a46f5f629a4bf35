"""Commands of the production apps: ``chaoyun reports`` (generate due or chosen reports from cron, when the
server's own scheduler is switched off with CHAOYUN_BACKGROUND=0)."""

from __future__ import annotations

from datetime import date

import typer


def register(app: typer.Typer) -> None:
    app.command("reports")(reports)
    app.command("schedule-bench")(schedule_bench)


def reports(
    kind: str = typer.Option("", help="daily | weekly | monthly; empty: every report that is due and missing."),
    day: str = typer.Option("", help="A day in the period (YYYY-MM-DD); default yesterday."),
    org: int = typer.Option(0, help="Organisation id (with --kind); 0: every enterprise with devices."),
) -> None:
    """Generate production reports (PDF) — the due ones, or one kind for a chosen day."""
    from datetime import datetime, timedelta

    from sqlalchemy import select

    from chaoyun.apps.oee.calendar import LOCAL
    from chaoyun.apps.reports import service
    from chaoyun.db import get_sessionmaker
    from chaoyun.devices.models import Device

    with get_sessionmaker()() as db:
        if not kind:
            typer.echo(f"{service.run_due(db)} reports generated")
            return
        if kind not in service.KINDS:
            raise typer.BadParameter("daily | weekly | monthly", param_hint="--kind")
        d = date.fromisoformat(day) if day else datetime.now(LOCAL).date() - timedelta(days=1)
        orgs = [org] if org else [int(o) for o in db.execute(select(Device.org_id).distinct()).scalars()]
        for o in orgs:
            rep = service.generate(db, o, kind, d)
            typer.echo(f"org {o}: {rep.filename} ({rep.size} bytes)")


def schedule_bench(
    file: str = typer.Argument(..., help="instances.json (job shop) or an FJSP text file or folder (Brandimarte)."),
    instances: str = typer.Option("", help="Comma-separated instance names; empty: all in the file or folder."),
    time_limit: float = typer.Option(60.0, help="Seconds per instance."),
    workers: int = typer.Option(2, help="CP-SAT search workers."),
    out: str = typer.Option("", help="CSV file to write (one row per instance); empty: standard output."),
) -> None:
    """Solve standard job-shop / flexible job-shop instances with the scheduling solver and report the gaps."""
    from chaoyun.apps.scheduling.bench import main

    raise typer.Exit(main(file, instances=instances, time_limit=time_limit, workers=workers, out=out))
