"""Route-table samples of the policy-effect pages and API (/programme/effect, /programme/effect/whatif,
/api/v1/programme/effect, /api/v1/programme/effect/whatif): GET routes with query parameters only, no path
parameters and no bodies. The security test calls each one as every role: enterprises, providers and experts
are refused; a district officer's figures are their district's (tests/programme/test_effect_pages.py)."""

from __future__ import annotations

from tests.route_samples import BodyFactory, Resolver

PATH_PARAMS: dict[str, Resolver] = {}
BODIES: dict[tuple[str, str], BodyFactory] = {}
