"""What pages and the API do with jobs: start an export, see one's jobs, cancel, download. A job is visible to
the people of the organisation that started it (and to platform administrators); anyone else gets 404, as for
a job that does not exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.errors import Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, gettext
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.jobs import runner
from chaoyun.jobs.exports import ARG_NAMES, EXPORTS
from chaoyun.jobs.models import Job

STATUS = {
    "queued": N_("Queued"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Did not finish"),
    "cancelled": N_("Cancelled"),
}
STAGES = {"collect": N_("Collecting the data"), "render": N_("Rendering the file"), "write": N_("Writing the file")}


def start_export(db: Session, actor: Actor, name: str, args: dict[str, Any]) -> Job:
    e = EXPORTS.get(name)
    if e is None:
        raise NotFound(N_("No such export."))
    if not actor.has(e.perm()):
        raise Forbidden(N_("Your role does not allow this."))
    clean = {k: str(v)[:40] for k, v in args.items() if k in ARG_NAMES and v}
    if actor.role == Role.DISTRICT_OFFICER and name.startswith("programme.common_problems"):
        clean.pop("district", None)  # the report scopes a district officer to their district by itself
    return runner.enqueue(
        db, "export", {"export": name, "membership_id": actor.membership.id, **clean},
        title=e.title, user_id=actor.user.id, org_id=actor.membership.org_id,
    )


def visible(actor: Actor) -> Any:
    """A job is seen by the people of the organisation that started it (the data it exports is the
    organisation's scope; a district officer's scope is their district); its file is downloaded by its starter
    or by those who may run that export."""
    if actor.role == Role.PLATFORM_ADMIN:
        return Job.id.is_not(None)
    if actor.role == Role.DISTRICT_OFFICER and actor.org.district:
        from chaoyun.identity.models import Organisation

        in_district = select(Organisation.id).where(Organisation.district == actor.org.district)
        return or_(Job.org_id == actor.membership.org_id, Job.org_id.in_(in_district))
    return Job.org_id == actor.membership.org_id


def get_job(db: Session, actor: Actor, job_id: int) -> Job:
    job = db.execute(select(Job).where(Job.id == job_id, visible(actor), Job.kind == "export")).scalar_one_or_none()
    if job is None:
        raise NotFound(N_("No such job."))
    return job


def my_jobs(db: Session, actor: Actor, limit: int = 50) -> list[Job]:
    """The organisation's exports, newest first."""
    q = select(Job).where(visible(actor), Job.kind == "export").order_by(Job.id.desc()).limit(limit)
    return list(db.execute(q).scalars())


def cancel(db: Session, actor: Actor, job_id: int) -> Job:
    job = get_job(db, actor, job_id)
    if job.status in ("done", "failed", "cancelled"):
        return job  # a second click changes nothing
    return runner.request_cancel(db, job)


def download(db: Session, actor: Actor, job_id: int) -> tuple[Path, str, str]:
    job = get_job(db, actor, job_id)
    name = (job.result or {}).get("file")
    if job.status != "done" or not name:
        raise Invalid(N_("The file is not ready yet."))
    from chaoyun.settings import get_settings

    e = EXPORTS.get(str((job.args or {}).get("export", "")))
    if job.user_id != actor.user.id and (e is None or not actor.has(e.perm())):
        raise Forbidden(N_("Your role does not allow this."))
    path = get_settings().var_dir / "jobs" / str(job.id) / Path(name).name
    if not path.exists():
        raise NotFound(N_("The file is no longer kept; start the export again."))
    return path, str(job.result.get("media", "application/octet-stream")), path.name


def as_dict(job: Job) -> dict[str, Any]:
    pct = int(100 * job.done / job.total) if job.total else (100 if job.status == "done" else 0)
    return {
        "id": job.id,
        "title": job.title,
        "title_text": gettext(job.title) if job.title else "",
        "status": job.status,
        "status_text": gettext(STATUS.get(job.status, job.status)),
        "done": job.done,
        "total": job.total,
        "percent": pct,
        "stage": job.message,
        "stage_text": gettext(STAGES[job.message]) if job.message in STAGES else job.message,
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "created_at": job.created_at.isoformat(),
        "created_local": timefmt.format_dt(job.created_at),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "download": f"/jobs/{job.id}/download" if job.status == "done" and (job.result or {}).get("file") else None,
    }
