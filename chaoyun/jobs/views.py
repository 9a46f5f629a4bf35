"""Pages of the job runner: one's exports (``/jobs``), a job with its live progress bar (``/jobs/{id}``, the bar
polls ``/jobs/{id}/bar`` each second until the job ends), cancel, download; and the start of a whole-city export
(``POST /jobs/exports/{name}``, a button any page can carry: ``jobs/_start.html``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor, Permission
from chaoyun.jobs import service
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)
SIGNED_IN = Permission.AUTHENTICATED


@router.get("/jobs")
def jobs_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(SIGNED_IN)) -> Response:
    jobs = [service.as_dict(j) for j in service.my_jobs(db, actor)]
    return render(request, "jobs/list.html", {"jobs": jobs})


@router.post("/jobs/exports/{export_name}")
async def start_export(
    request: Request, export_name: str, db: Session = Depends(get_db), actor: Actor = requires(SIGNED_IN)
) -> Response:
    form = await request.form()
    job = service.start_export(db, actor, export_name[:64], {k: str(v) for k, v in form.items()})
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}")
def job_page(
    request: Request, job_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SIGNED_IN)
) -> Response:
    job = service.as_dict(service.get_job(db, actor, job_id))
    return render(request, "jobs/job.html", {"job": job})


@router.get("/jobs/{job_id}/bar")
def job_bar(
    request: Request, job_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SIGNED_IN)
) -> Response:
    job = service.as_dict(service.get_job(db, actor, job_id))
    return render(request, "jobs/_progress.html", {"job": job})


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SIGNED_IN)) -> Response:
    service.cancel(db, actor, job_id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.get("/jobs/{job_id}/download")
def download(job_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SIGNED_IN)) -> Response:
    path, media, name = service.download(db, actor, job_id)
    return FileResponse(path, media_type=media, filename=name)
