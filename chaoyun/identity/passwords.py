"""Password rules: at least 10 characters, not a common password, not the username or organisation name.

The common list is shipped as data (``data/common_passwords.txt``); a trailing run of digits or
punctuation is stripped before the check, so "Password123!" is refused as "password". Demo passwords
(``<username>-demo-2018``) contain the username but are not equal to it, and pass.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from chaoyun.errors import Invalid
from chaoyun.i18n import N_

MIN_LENGTH = 10
MAX_LENGTH = 128
_TRAILING = re.compile(r"[\d\W_]+$")
_SEPARATORS = re.compile(r"[\s._-]+")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "common_passwords.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("#"))


def _norm(text: str) -> str:
    return _SEPARATORS.sub("", text.strip().lower())


def check(password: str, username: str = "", org_name: str = "", field: str = "password") -> None:
    """Raise Invalid (bilingual, on ``field``) unless ``password`` is acceptable."""
    if len(password) < MIN_LENGTH:
        raise Invalid(N_("The password needs at least %(n)s characters."), field=field, n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise Invalid(N_("The password may have at most %(n)s characters."), field=field, n=MAX_LENGTH)
    low = password.lower()
    common = common_passwords()
    stripped = _TRAILING.sub("", low)
    if low in common or stripped in common or len(set(low)) <= 2:
        raise Invalid(N_("This password is too common; choose one that is harder to guess."), field=field)
    p = _norm(password)
    for name in (username, org_name):
        n = _norm(name)
        if n and (p == n or _norm(stripped) == n or p == n[::-1]):
            raise Invalid(N_("The password must not be your username or organisation name."), field=field)
