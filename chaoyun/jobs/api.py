"""JSON API of the job runner (``/api/v1/jobs``): start a whole-city export, poll its progress, cancel it, then
download the file from ``download``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.identity.permissions import Actor, Permission
from chaoyun.jobs import service
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
SIGNED_IN = Permission.AUTHENTICATED


class ExportIn(BaseModel):
    cluster: str | None = Field(default=None, max_length=40)
    district: str | None = Field(default=None, max_length=40)
    year: str | None = Field(default=None, max_length=40)


@router.get("")
def list_jobs(db: Session = Depends(get_db), actor: Actor = requires(SIGNED_IN)) -> list[dict[str, Any]]:
    return [service.as_dict(j) for j in service.my_jobs(db, actor)]


@router.post("/exports/{export_name}", status_code=202)
def start_export(
    export_name: str, body: ExportIn | None = None, db: Session = Depends(get_db), actor: Actor = requires(SIGNED_IN)
) -> dict[str, Any]:
    args = body.model_dump(exclude_none=True) if body else {}
    return service.as_dict(service.start_export(db, actor, export_name[:64], args))


@router.get("/{job_id}")
def get_job(job_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SIGNED_IN)) -> dict[str, Any]:
    return service.as_dict(service.get_job(db, actor, job_id))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: DbId, db: Session = Depends(get_db), actor: Actor = requires(SIGNED_IN)) -> dict[str, Any]:
    return service.as_dict(service.cancel(db, actor, job_id))
