"""Permissions of the programme context: targets, cloud adoption, diagnosis, evaluation exports."""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
_ENTERPRISES = (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER)
_GOV = (R.CITY_OFFICER, R.DISTRICT_OFFICER, R.EXPERT, R.EVALUATOR)

# Targets dashboard: the government side (district officers see their district's share).
TARGETS_READ = grant("programme.targets.read", _GOV, write=False)
# Cloud adoption: enterprises declare their own; district officers verify; the city counts.
ADOPTION_READ = grant("programme.adoption.read", (*_ENTERPRISES, *_GOV), write=False)
ADOPTION_DECLARE = grant("programme.adoption.declare", _ENTERPRISES, write=True)
ADOPTION_VERIFY = grant("programme.adoption.verify", (R.DISTRICT_OFFICER, R.CITY_OFFICER), write=True)
ADOPTION_COUNT = grant("programme.adoption.count", (R.CITY_OFFICER,), write=True)
# Diagnosis: enterprises self-assess; experts review on site.
DIAGNOSIS_READ = grant("programme.diagnosis.read", (*_ENTERPRISES, *_GOV), write=False)
DIAGNOSIS_ANSWER = grant("programme.diagnosis.answer", _ENTERPRISES, write=True)
DIAGNOSIS_REVIEW = grant("programme.diagnosis.review", (R.EXPERT,), write=True)
# Evaluation exports (保障措施 一): the third-party evaluator and the city bureau, city-wide.
EVALUATION_EXPORT = grant("programme.evaluation.export", (R.CITY_OFFICER, R.EVALUATOR), write=False)
