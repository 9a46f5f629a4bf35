"""Samples for the job runner's routes (tests/test_route_security.py): a finished export of one of the owner's
people (another organisation's people get 404), and the name of a whole-city export."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Membership, Organisation
from chaoyun.jobs.models import Job


def job_id(db: Session, owner: Organisation) -> str:
    m = db.execute(select(Membership).where(Membership.org_id == owner.id).order_by(Membership.id)).scalars().first()
    user_id = m.user_id if m else None
    job = db.execute(
        select(Job).where(Job.org_id == owner.id, Job.user_id == user_id, Job.kind == "export").order_by(Job.id)
    ).scalars().first()
    if job is None:
        job = Job(kind="export", title="Programme evaluation (Excel)", status="queued", user_id=user_id,
                  org_id=owner.id, args={})
        db.add(job)
        db.commit()
    return str(job.id)


PATH_PARAMS = {"job_id": job_id, "export_name": lambda db, owner: "programme.evaluation_xlsx"}
