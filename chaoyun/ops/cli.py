"""Commands of operations: ``chaoyun backup PATH`` and ``chaoyun restore PATH`` (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_cmd)
    app.command("restore")(restore_cmd)


def _report(title: str, result: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from chaoyun.ops.backup import Result

    assert isinstance(result, Result)
    table = Table(title=title)
    for col in ("database", "tables", "rows"):
        table.add_column(col, justify="right" if col != "database" else "left")
    for name, summary in result.databases.items():
        table.add_row(name, str(len(summary)), f"{sum(t.rows for t in summary.values()):,}")
    Console().print(table)
    size = result.bytes / 1e6
    typer.echo(
        f"{result.path}: {result.kind}, {result.tables} tables, {result.rows:,} rows, {result.files} files, "
        f"{size:.1f} MB, {result.seconds:.1f} s"
    )


def backup_cmd(
    path: Path = typer.Argument(..., help="Archive to write (.tar; .tar.gz or .tgz compresses)."),
    files: bool = typer.Option(True, "--files/--no-files", help="Include the files under CHAOYUN_VAR_DIR."),
) -> None:
    """Back up the database (SQLite online backup / pg_dump) and the var folder into one archive."""
    from chaoyun.ops.backup import BackupError, backup

    try:
        result = backup(path, files=files)
    except BackupError as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    _report("备份 / Backup", result)


def restore_cmd(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Archive written by chaoyun backup."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before replacing the current data."),
    files: bool = typer.Option(True, "--files/--no-files", help="Restore the files under CHAOYUN_VAR_DIR too."),
) -> None:
    """Replace the current database (and var files) with a backup, then check every table against it.

    Stop the server and ingest workers first."""
    from chaoyun.ops.backup import BackupError, read_manifest, restore
    from chaoyun.settings import get_settings

    try:
        manifest = read_manifest(path)
    except BackupError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    s = get_settings()
    target = s.database_url.split("@")[-1] if "@" in s.database_url else s.database_url
    typer.echo(f"backup of {manifest['created_at']} ({manifest['kind']}, chaoyun {manifest['chaoyun']})")
    if not yes:
        typer.confirm(f"Replace everything in {target} and {s.var_dir} with it?", abort=True)
    try:
        result = restore(path, files=files)
    except BackupError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    _report("恢复 / Restore", result)
    if result.mismatches:
        typer.echo("restored data differs from the backup:\n  " + "\n  ".join(result.mismatches), err=True)
        raise typer.Exit(2)
    typer.echo("every table matches the backup (row counts and content hashes)")
