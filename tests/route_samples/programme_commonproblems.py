"""Route samples for the industry common-problem report (no path parameters) and an enterprise's consent."""

from __future__ import annotations

PATH_PARAMS: dict[str, object] = {}

BODIES = {
    ("POST", "/programme/common-problems/consent"): lambda o: {"named": "1"},
    ("PUT", "/api/v1/programme/common-problems/consent"): lambda o: {"named": True},
}
