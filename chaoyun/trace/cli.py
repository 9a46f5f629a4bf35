"""Commands of the trace context: ``chaoyun trace rebuild | verify``."""

from __future__ import annotations

import typer

trace_app = typer.Typer(help="Identifiers and the trace graph", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(trace_app, name="trace")


@trace_app.command("rebuild")
def rebuild(org_id: int = typer.Option(None, help="Only this enterprise's lots.")) -> None:
    """Link every production lot (materials, supply-chain shipments) into the trace graph; idempotent."""
    from chaoyun.db import get_sessionmaker
    from chaoyun.trace import graph

    with get_sessionmaker()() as db:
        n = graph.rebuild(db, org_id)
    typer.echo(f"{n} lots linked")


@trace_app.command("verify")
def verify() -> None:
    """Recompute every identifier record's HMAC; exit 1 and list the handles changed outside the platform."""
    from chaoyun.db import get_sessionmaker
    from chaoyun.trace import service

    with get_sessionmaker()() as db:
        checked, bad = service.verify_all(db)
    typer.echo(f"{checked} identifier records checked, {len(bad)} failed")
    for h in bad:
        typer.echo(f"  tampered: {h}")
    if bad:
        raise typer.Exit(1)
