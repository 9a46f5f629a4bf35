"""Route samples for the programme context (targets, cloud adoption, diagnosis, evaluation)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from chaoyun.programme.models import CloudAdoption, Diagnosis


def adoption_id(db: Session, owner: Organisation) -> str:
    a = CloudAdoption(
        org_id=owner.id,
        status="declared",
        areas={"office": None, "marketing": None},
        provider_name="汕头电信政企云",
        live_since=date(2019, 5, 1),
    )
    db.add(a)
    db.commit()
    return str(a.id)


def diagnosis_id(db: Session, owner: Organisation) -> str:
    d = Diagnosis(org_id=owner.id, questionnaire="sme-digital-level-2024", status="submitted", answers={})
    db.add(d)
    db.commit()
    return str(d.id)


PATH_PARAMS = {"adoption_id": adoption_id, "diagnosis_id": diagnosis_id}


def _declare(o: Organisation) -> dict[str, Any]:
    return {"areas": ["office"], "provider_name": "汕头电信政企云", "live_since": "2019-05-01"}


BODIES = {
    ("POST", "/programme/adoptions"): _declare,
    ("POST", "/api/v1/programme/adoptions"): _declare,
    ("POST", "/programme/adoptions/{adoption_id}/verify"): lambda o: {"officer_checked": "office"},
    ("POST", "/api/v1/programme/adoptions/{adoption_id}/verify"): lambda o: {"officer_checked": ["office"]},
    ("POST", "/programme/adoptions/{adoption_id}/reject"): lambda o: {"reason": "材料不全"},
    ("POST", "/programme/adoptions/{adoption_id}/count"): lambda o: {"year": "2019"},
    ("POST", "/programme/diagnoses/{diagnosis_id}/adjust"): lambda o: {
        "item_key": "systems_coverage",
        "value": "one_area",
        "reason": "现场核实",
    },
    ("POST", "/programme/diagnoses/{diagnosis_id}/return"): lambda o: {"reason": "请补充"},
}
