"""Commands of the production apps: ``chaoyun reports`` (generate due or chosen reports from cron, when the
server's own scheduler is switched off with CHAOYUN_BACKGROUND=0)."""

from __future__ import annotations

from datetime import date

import typer


def register(app: typer.Typer) -> None:
    app.command("reports")(reports)
    app.command("schedule-bench")(schedule_bench)
    app.command("rul-bench")(rul_bench)
    app.command("failure-bench")(failure_bench)


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


def rul_bench(
    train: str = typer.Option(..., help="Run-to-failure training file (C-MAPSS train_FD00x.txt)."),
    test: str = typer.Option(..., help="Truncated test file (C-MAPSS test_FD00x.txt)."),
    out: str = typer.Option("predictions.txt", help="One predicted RUL per test engine, in engine order."),
    folds: int = typer.Option(5, help="Cross-validation folds (engines grouped)."),
    cuts: int = typer.Option(5, help="Random cut points per validation engine."),
    jobs: int = typer.Option(2, help="LightGBM threads."),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Remaining useful life benchmark: cross-validated RMSE and PHM08 score, predictions for the test engines."""
    from chaoyun.apps.maintenance.predict.cli import rul_bench as run

    raise typer.Exit(run(train, test, out, folds=folds, cuts=cuts, jobs=jobs, as_json=json_out))


def failure_bench(
    file: str = typer.Argument(..., help="AI4I 2020 CSV (ai4i2020.csv)."),
    folds: int = typer.Option(5, help="Stratified cross-validation folds."),
    jobs: int = typer.Option(2, help="LightGBM threads."),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Failure classification benchmark: cross-validated F1 and PR-AUC."""
    from chaoyun.apps.maintenance.predict.cli import failure_bench as run

    raise typer.Exit(run(file, folds=folds, jobs=jobs, as_json=json_out))
