"""GB 32100-2015 unified social credit code (统一社会信用代码) validation and construction."""

from __future__ import annotations

from chaoyun.i18n import N_

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {c: i for i, c in enumerate(CHARSET)}


def check_char(first17: str) -> str:
    """The 18th character for the first 17 (which must all be in CHARSET)."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def credit_code_error(code: str) -> str | None:
    """None when ``code`` is a valid credit code, else a short English reason (a msgid)."""
    if len(code) != 18:
        return N_("A credit code has exactly 18 characters.")
    bad = [c for c in code if c not in _VALUE]
    if bad:
        return N_("A credit code uses only digits and capital letters other than I, O, S, V and Z.")
    if not code[2:8].isdigit():
        return N_("Characters 3 to 8 of a credit code are the administrative division code (digits).")
    if check_char(code[:17]) != code[17]:
        return N_("The check character (the 18th) of this credit code is wrong.")
    return None


def is_valid(code: str) -> bool:
    return credit_code_error(code) is None


def org_code_check(body8: str) -> str:
    """GB 11714 check character of the 8-character organisation code body (positions 9-16)."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(_VALUE[c] * w for c, w in zip(body8, weights, strict=True))
    r = 11 - total % 11
    return "X" if r == 10 else ("0" if r == 11 else str(r))


def build(registration: str, division: str, body8: str) -> str:
    """Assemble a complete code: 2-char registration class, 6-digit division, 8-char body."""
    first17 = registration + division + body8 + org_code_check(body8)
    return first17 + check_char(first17)
