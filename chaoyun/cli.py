"""Command line: ``chaoyun serve | demo | db upgrade | audit verify | audit checkpoint | user ...``."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from chaoyun.settings import get_settings

app = typer.Typer(help="Chaoyun (潮云) industrial internet platform", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
audit_app = typer.Typer(help="Audit log", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
console = Console(width=max(Console().width, 120))


def _register_context_commands() -> None:
    """Each context may add commands in ``chaoyun/<context>/cli.py`` via ``register(app)``."""
    import importlib
    from pathlib import Path

    package = Path(__file__).resolve().parent
    for ctx in sorted(p for p in package.iterdir() if (p / "cli.py").exists()):
        importlib.import_module(f"chaoyun.{ctx.name}.cli").register(app)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every context's migrations (alembic upgrade heads)."""
    from chaoyun import migrate

    migrate.upgrade()
    console.print("[green]database is up to date[/green]")


@app.command()
def demo(
    enterprises: int = typer.Option(300, help="How many demo enterprises to seed."),
    serve: bool = typer.Option(False, help="Start the server after seeding."),
    history_days: float = typer.Option(
        7.0, help="Days of machine history the simulator writes for demo devices that have none (0: none)."
    ),
) -> None:
    """Seed the demo Shantou cluster (deterministic, idempotent) and print the demo logins."""
    from chaoyun import migrate
    from chaoyun.db import get_sessionmaker
    from chaoyun.identity import demo as demo_data

    migrate.upgrade()
    with get_sessionmaker()() as db:
        logins = demo_data.seed(db, enterprises=enterprises, progress=True)
        # Other contexts seed after identity (devices, programme, ...): ``chaoyun/<ctx>/demo.py: seed(db)``.
        for seed in demo_data.context_seeders():
            seed(db)
        if history_days > 0:
            _demo_history(db, history_days)
        # Scheduling after production's work orders (apps seeds before production): a published plan per toy
        # maker and a simulated breakdown that proposes a repair.
        from chaoyun.apps.scheduling import demo as scheduling_demo

        console.print(f"scheduling: {scheduling_demo.seed(db)}")
        # Maintenance after the simulated history (and the scheduling demo's breakdown): plans due by the real
        # rules, corrective orders from the simulated breakdown stops and alarms.
        from chaoyun.apps.maintenance import demo as maintenance_demo

        console.print(f"maintenance: {maintenance_demo.seed(db)}")
        # Predictive maintenance last: the degrading machines' simulated history scored by the real rules (baseline,
        # anomaly alarm, health-index RUL, predictive order).
        from chaoyun.apps.maintenance.predict import jobs as predict_jobs

        console.print(f"predictive maintenance: {predict_jobs.seed_demo(db)}")
        # Capacity sharing and payment terms after the supply-chain seed (its receipts) and the machine history (the
        # loading that offers are computed from).
        from chaoyun.supplychain.capacity import demo as capacity_demo
        from chaoyun.supplychain.terms import demo as terms_demo

        console.print(f"shared capacity: {capacity_demo.seed(db)}")
        console.print(f"payment terms: {terms_demo.seed(db)}")
        # Intrusion detection before the incidents: a baseline learned from the simulated plant network of the demo
        # factory, then a later simulated capture with attacks scanned by the real detector (alerts, device alarms).
        from chaoyun.security.ids import demo as ids_demo

        console.print(f"intrusion detection: {ids_demo.seed(db)}")
        # Security incidents last (the inspection campaign seeds with the contexts above): the intrusion detector's
        # demo alerts of the demo factory grouped into an incident by the real rule, with the device data around it.
        from chaoyun.security import demo as security_demo

        console.print(f"security incidents: {security_demo.seed_incidents(db)}")
    table = Table(title="演示账号 / Demo logins")
    for col in ("role", "username", "password", "organisation"):
        table.add_column(col)
    for row in logins:
        table.add_row(row.role, row.username, row.password, row.org_name)
    console.print(table)
    s = get_settings()
    console.print(f"Open http://{s.host}:{s.port}/ and sign in with one of the accounts above.")
    if serve:
        _serve(s.host, s.port, 1)


def _demo_history(db: Any, days: float) -> None:
    """Run the simulated factories for the past ``days``: machine history (fast backfill, 5-minute steps),
    their people's daily use of the apps, then the programme's evidence rules over what they did."""
    from datetime import UTC, datetime

    from rich.progress import Progress

    from chaoyun.devices.store import get_store
    from chaoyun.programme import demo as programme_demo
    from chaoyun.simulator import people, runner

    devs = runner.load_devices(db)
    seen = get_store().last_seen([d.id for d in devs])
    fresh = [d for d in devs if d.id not in seen]
    if fresh:
        with Progress(console=console) as bar:
            task = bar.add_task(f"模拟 {len(fresh)} 台设备 {days:g} 天的历史数据 / machine history", total=1.0)
            n = runner.backfill(
                runner.InProcess(),
                fresh,
                days * 24,
                300.0,
                datetime.now(UTC),
                on_chunk=lambda share: bar.update(task, completed=share),
            )
        console.print(f"{n:,} points of history written")
    orgs = sorted({int(o) for o in runner.device_orgs(db, [d.id for d in devs])})
    uses = people.simulate_app_use(db, orgs, days=int(days))
    result = programme_demo.adoptions_from_use(db, orgs)
    console.print(
        f"app use recorded: {uses}; cloud adoptions declared from real use: {result['declared']}, "
        f"verified by the district officers with the evidence rules: {result['verified']}"
    )
    # The policy-effect demo: a year of simulated activity before this week with a planted +3 OEE effect after
    # each voucher, outcomes computed by the platform's rules (chaoyun.programme.effect.demo).
    from chaoyun.programme.effect import demo as effect_demo

    eff = effect_demo.seed_planted(db, orgs, days)
    if eff["enterprises"]:
        console.print(
            f"policy effect: {eff['enterprises']} factories' year before the demo week simulated "
            f"({eff['points']:,} points, {eff['treated']} vouchers, +3 OEE points planted), "
            f"{eff['rows']} monthly outcomes computed"
        )


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default CHAOYUN_HOST)."),
    port: int = typer.Option(None, help="Port (default CHAOYUN_PORT)."),
    workers: int = typer.Option(1, help="Worker processes (one per core); they share the port."),
) -> None:
    """Run the web server (migrates first)."""
    from chaoyun import migrate

    migrate.upgrade()
    s = get_settings()
    _serve(host or s.host, port or s.port, workers)


def _serve(host: str, port: int, workers: int) -> None:
    from chaoyun.web.server import serve as run_server

    run_server(host, port, workers)


@app.command("settings")
def show_settings() -> None:
    """Every CHAOYUN_* variable with its default and current value."""
    import os

    from chaoyun.settings import VARIABLES

    table = Table(title="CHAOYUN_* settings")
    for col in ("variable", "default", "current", "meaning"):
        table.add_column(col, overflow="fold")
    for v in VARIABLES:
        current = os.environ.get(f"CHAOYUN_{v.name}", "")
        shown = "(set)" if v.name in ("SECRET_KEY", "AUDIT_KEY") and current else current
        table.add_row(f"CHAOYUN_{v.name}", v.default, shown, v.help)
    console.print(table)


@audit_app.command("verify")
def audit_verify(
    checkpoint: str = typer.Option("", "--checkpoint", help="a file written by `chaoyun audit checkpoint`"),
) -> None:
    """Recompute the keyed hash chain; exit 1 if any entry was edited, inserted or deleted. With
    --checkpoint, also exit 1 if the log no longer holds that checkpoint's head or has fewer entries."""
    import json
    from pathlib import Path

    from chaoyun.db import get_sessionmaker
    from chaoyun.identity import audit

    cp = None
    if checkpoint:
        try:
            cp = json.loads(Path(checkpoint).read_text())
        except (OSError, ValueError) as exc:
            console.print(f"[red]cannot read checkpoint {checkpoint}: {exc}[/red]")
            raise typer.Exit(2) from None
    with get_sessionmaker()() as db:
        result = audit.verify(db, checkpoint=cp)
    if result.ok:
        against = f" (checkpoint of {cp['time']}: entry {cp['id']}, {cp['count']} entries)" if cp else ""
        console.print(f"[green]audit log intact: {result.checked} entries verified{against}[/green]")
        return
    console.print(f"[red]audit log tampered: {len(result.problems)} problem(s) in {result.checked} entries[/red]")
    for p in result.problems[:50]:
        console.print(f"  - {p}")
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(out: str = typer.Option(..., "--out", help="file to write (keep it outside the server)")) -> None:
    """Write the log's head as a signed checkpoint (id, count, head hash, time, HMAC with the audit key)."""
    import json
    from pathlib import Path

    from chaoyun.db import get_sessionmaker
    from chaoyun.identity import audit

    with get_sessionmaker()() as db:
        cp = audit.checkpoint(db)
    Path(out).write_text(json.dumps(cp, indent=2) + "\n")
    console.print(f"checkpoint written to {out}: entry {cp['id']}, {cp['count']} entries, head {cp['head'][:16]}…")


_register_context_commands()

if __name__ == "__main__":
    app()
