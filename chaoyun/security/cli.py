"""Commands of the security context. Each sub-package registers its own group here (``chaoyun ids …`` from
``chaoyun/security/ids/cli.py``); add a line per sub-package."""

from __future__ import annotations

import typer

from chaoyun.security.ids import cli as ids_cli


def register(app: typer.Typer) -> None:
    ids_cli.register(app)
