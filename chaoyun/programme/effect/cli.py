"""``chaoyun policy-effect`` (the effect page's figures in a terminal) and ``chaoyun outcomes-snapshot``."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from chaoyun.errors import AppError
from chaoyun.i18n import translate

console = Console()


def policy_effect(
    instrument: str = typer.Option(..., help="vouchers | subsidies | shared_services | diagnosis | demonstration"),
    outcome: str = typer.Option(
        ..., help="digital_level | adoption_stars | oee | quality_rate | energy_per_unit | devices_connected"
    ),
    year: int = typer.Option(None, help="Only enterprises whose first participation fell in this year."),
    district: str = typer.Option(None, help="Only this district's enterprises (district code, e.g. chenghai)."),
    lang: str = typer.Option("zh_CN", help="zh_CN or en"),
) -> None:
    """The effect of one instrument on one outcome: the same figures as /programme/effect."""
    from chaoyun.db import get_sessionmaker
    from chaoyun.programme.effect import service
    from chaoyun.programme.outcomes import service as outcomes

    try:
        service.check_choice(instrument, outcome)
        if year is not None and not 2000 <= year <= 2100:
            raise service.UnknownChoice(service.YEAR_RANGE, field="year")
    except AppError as exc:
        m = exc.messages()
        typer.echo(m["zh"], err=True)
        typer.echo(m["en"], err=True)
        raise typer.Exit(2) from exc
    loc = "en" if lang.lower().startswith("en") else "zh_CN"

    def t(msgid: str, **params: object) -> str:
        return translate(msgid, loc, **params)

    with get_sessionmaker()() as db:
        r = service.estimate(db, instrument, outcome, year, district)
    unit = t(outcomes.UNITS[outcome])
    title = f"{t(service.INSTRUMENT_LABELS[instrument])} → {t(outcomes.LABELS[outcome])}"
    table = Table(title=f"{t('Policy effect')}: {title}")
    table.add_column(t("Effect figure"))
    table.add_column(t("Value"), justify="right")
    table.add_row(t("Participation"), t(service.PARTICIPATION_LABELS[instrument]))
    table.add_row(t("Year of participation"), str(year) if year else t("All years"))
    table.add_row(t("District"), district or t("All districts"))
    table.add_row(t("Participants"), str(r.participants))
    if not r.shown or r.estimate is None:
        table.add_row(t("Result"), t(r.withheld or "", n=service.MIN_GROUP))
        console.print(table)
        return
    e = r.estimate
    k = outcomes.DECIMALS[outcome]
    table.add_row(t("Effect (difference-in-differences)"), f"{e.value:+.{k}f} {unit}")
    table.add_row(t("Interval (95 percent)"), f"{e.low:+.{k}f} … {e.high:+.{k}f}")
    table.add_row(t("Enterprises behind it"), t("%(t)s participants, %(c)s controls", t=r.treated, c=r.controls))
    if r.pretrend is not None:
        p = r.pretrend
        placebo = f"{p.value:+.{k}f} ({p.low:+.{k}f} … {p.high:+.{k}f})"
        table.add_row(t("Pre-period trend difference (placebo)"), placebo)
    table.add_row(t("Money spent on them"), f"{r.money_total:,.2f}" if r.money_total is not None else "—")
    per = (
        f"{r.money_per_unit:,.2f} " + t("yuan per %(unit)s per enterprise", unit=unit)
        if r.money_per_unit is not None
        else "—"
    )
    table.add_row(t("Money per unit of improvement"), per)
    for level, n in sorted(r.match_levels.items()):
        table.add_row(t(service.LEVEL_LABELS[level]), str(n))
    console.print(table)
    if r.money_note:
        console.print(t(r.money_note))
    if r.pretrend_ok is False:
        console.print(t(service.PRETREND_WARNING))
    for c in r.caveats:
        console.print(f"- {translate(c, 'zh_CN')}\n  {translate(c, 'en')}")
    console.print("- " + t(service.METHOD_NOTE, n=service.MIN_GROUP))


def outcomes_snapshot(
    months: int = typer.Option(2, help="How many months back to compute (this month included)."),
) -> None:
    """Compute the monthly outcome snapshots by the platform's rules (the server does the last two months)."""
    from chaoyun.apps.oee.calendar import LOCAL
    from chaoyun.db import get_sessionmaker
    from chaoyun.programme.outcomes import service as outcomes

    this = outcomes.month_start(datetime.now(UTC).astimezone(LOCAL).date())
    with get_sessionmaker()() as db:
        total = 0
        for k in range(months - 1, -1, -1):
            m = outcomes.add_months(this, -k)
            n = outcomes.snapshot_month(db, m)
            total += n
            console.print(f"{m:%Y-%m}: {n} rows")
    console.print(f"{total} outcome rows written")
