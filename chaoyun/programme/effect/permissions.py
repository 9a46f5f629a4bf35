"""Permissions of the policy-effect pages: officers (the city sees every district, a district officer only
their own) and the third-party evaluator; enterprises, providers and experts see nothing of them."""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role

EFFECT_READ = grant("programme.effect.read", (R.CITY_OFFICER, R.DISTRICT_OFFICER, R.EVALUATOR), write=False)
# The what-if re-runs the whole city's applications (money of every district): city-wide roles only.
EFFECT_WHATIF = grant("programme.effect.whatif", (R.CITY_OFFICER, R.EVALUATOR), write=False)
