"""Whole-city exports as claimed jobs: started from a page or the API, run by a worker with progress (by stage:
collect, render, write), cancellable between stages, downloaded when done. The export functions are the
programme's own (the same files the synchronous download routes give); the job only moves them off the request.

Each export names the permission it needs (the same as its synchronous route); the job runs as the person who
started it (their membership: a district officer's common-problem report covers their district only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.db import get_sessionmaker
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.jobs.runner import JobContext

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"


@dataclass(frozen=True)
class Export:
    name: str
    title: str  # msgid
    perm: Callable[[], str]
    filename: str
    media: str
    make: Callable[[Session, Actor, dict[str, Any]], Any]  # -> the data to render (stage 1)
    render: Callable[[Any], bytes]  # -> the file's bytes (stage 2)


def _evaluation_perm() -> str:
    from chaoyun.programme.permissions import EVALUATION_EXPORT

    return str(EVALUATION_EXPORT)


def _report_perm() -> str:
    from chaoyun.programme.commonproblems.permissions import REPORT_READ

    return str(REPORT_READ)


def _evaluation(fmt: str) -> Callable[[Session, Actor, dict[str, Any]], Any]:
    def make(db: Session, actor: Actor, args: dict[str, Any]) -> Any:
        return db  # the evaluation export reads the database while it renders

    return make


def _render_evaluation(fmt: str) -> Callable[[Any], bytes]:
    def render(db: Any) -> bytes:
        from chaoyun.programme import reports

        return reports.evaluation_xlsx(db) if fmt == "xlsx" else reports.evaluation_pdf(db)

    return render


def _report(db: Session, actor: Actor, args: dict[str, Any]) -> Any:
    from chaoyun.programme.commonproblems import service

    return service.report(db, actor, args.get("cluster"), args.get("district"), args.get("year"))


def _render_report(fmt: str) -> Callable[[Any], bytes]:
    def render(rep: Any) -> bytes:
        from chaoyun.programme.commonproblems import pdf

        return pdf.report_xlsx(rep) if fmt == "xlsx" else pdf.report_pdf(rep)

    return render


EXPORTS: dict[str, Export] = {
    e.name: e
    for e in (
        Export("programme.evaluation_xlsx", N_("Programme evaluation (Excel)"), _evaluation_perm,
               "programme-evaluation.xlsx", XLSX, _evaluation("xlsx"), _render_evaluation("xlsx")),
        Export("programme.evaluation_pdf", N_("Programme evaluation (PDF)"), _evaluation_perm,
               "programme-evaluation.pdf", PDF, _evaluation("pdf"), _render_evaluation("pdf")),
        Export("programme.common_problems_xlsx", N_("Common-problem report (Excel)"), _report_perm,
               "common-problem-report.xlsx", XLSX, _report, _render_report("xlsx")),
        Export("programme.common_problems_pdf", N_("Common-problem report (PDF)"), _report_perm,
               "common-problem-report.pdf", PDF, _report, _render_report("pdf")),
    )
}
ARG_NAMES = ("cluster", "district", "year")


def _actor(db: Session, membership_id: int) -> Actor:
    from chaoyun.identity.models import Membership

    m = db.get(Membership, membership_id)
    if m is None:
        raise LookupError("membership gone")
    return Actor(user=m.user, membership=m)


def run_export(ctx: JobContext, export: str, membership_id: int, **args: Any) -> dict[str, Any]:
    """The job: collect (1/3), render (2/3), write (3/3); a cancel is seen between stages."""
    e = EXPORTS[export]
    ctx.progress(0, 3, "collect")
    with get_sessionmaker()() as db:
        actor = _actor(db, membership_id)
        if not actor.has(e.perm()):  # the role may have changed since the job was started
            raise PermissionError("permission withdrawn")
        data = e.make(db, actor, args)
        ctx.progress(1, 3, "render")
        content = e.render(data)
    ctx.progress(2, 3, "write")
    path = ctx.folder / e.filename
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(content)
    tmp.replace(path)  # a retry overwrites the same file: done once, whatever the attempts
    return {"file": e.filename, "media": e.media, "bytes": len(content)}

