"""What the route-table security tests need to call every route: path parameter values and bodies.

Each context adds a module here (``tests/route_samples/<context>.py``) defining:

- ``PATH_PARAMS``: ``{param_name: resolver}``; ``resolver(db, owner)`` returns the id (as str) of an
  object of that kind belonging to organisation ``owner`` (creating one if needed).
- ``BODIES``: ``{(method, path_template): factory}``; ``factory(owner)`` returns a *valid* JSON body
  (API routes) or form dict (page routes), so that only permission checks can stop the request.

A route whose path parameter has no resolver makes the security tests fail.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation

Resolver = Callable[[Session, Organisation], str]
BodyFactory = Callable[[Organisation], dict[str, Any]]

PATH_PARAMS: dict[str, Resolver] = {}
BODIES: dict[tuple[str, str], BodyFactory] = {}

for _mod in pkgutil.iter_modules([str(Path(__file__).parent)]):
    _m = importlib.import_module(f"tests.route_samples.{_mod.name}")
    PATH_PARAMS.update(getattr(_m, "PATH_PARAMS", {}))
    BODIES.update(getattr(_m, "BODIES", {}))
