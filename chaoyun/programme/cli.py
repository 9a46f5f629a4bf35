"""Commands of the programme context: ``chaoyun check-pack [FILE]`` and ``chaoyun evaluation-export DIR``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("check-pack")(check_pack)
    app.command("evaluation-export")(evaluation_export)
    from chaoyun.programme.effect import cli as effect_cli

    app.command("policy-effect")(effect_cli.policy_effect)
    app.command("outcomes-snapshot")(effect_cli.outcomes_snapshot)


def check_pack(
    path: Path = typer.Argument(None, help="Policy pack YAML (default: CHAOYUN_POLICY_PACK or the Shantou pack)."),
) -> None:
    """Validate a policy pack and its questionnaire; list every problem found."""
    from chaoyun.programme.pack import PackError, load_pack, pack_path
    from chaoyun.programme.questionnaire import QUESTIONNAIRE_DIR, load_questionnaire

    target = path or pack_path()
    try:
        pack = load_pack(target)
        load_questionnaire(QUESTIONNAIRE_DIR / f"{pack.diagnosis.questionnaire}.yaml")
    except PackError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{target}: OK — {pack.title_zh} ({pack.period.start}–{pack.period.end}), {len(pack.targets)} targets")
    for t in pack.targets:
        typer.echo(f"  {t.key:<30} {t.plan_label:>10}  {t.lead:<8} rule={t.rule}")
        if t.by_district:
            split = ", ".join(f"{d}={v}" for d, v in sorted(t.by_district.items()))
            typer.echo(f"  {'':<30} by district: {split}")


def evaluation_export(out_dir: Path = typer.Argument(..., help="Folder for the workbook and the PDF report.")) -> None:
    """Write the evaluation workbook and PDF report (the same files evaluators download)."""
    from chaoyun.db import get_sessionmaker
    from chaoyun.programme import reports

    out_dir.mkdir(parents=True, exist_ok=True)
    with get_sessionmaker()() as db:
        (out_dir / "programme-evaluation.xlsx").write_bytes(reports.evaluation_xlsx(db))
        (out_dir / "programme-evaluation.pdf").write_bytes(reports.evaluation_pdf(db))
    typer.echo(f"written to {out_dir}")
