"""Bilingual messages for schema validation errors (Pydantic / FastAPI)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaoyun.i18n import N_, both

_MESSAGES: dict[str, str] = {
    "missing": N_("This field is required."),
    "string_too_short": N_("Too short: at least %(min_length)s characters."),
    "string_too_long": N_("Too long: at most %(max_length)s characters."),
    "string_pattern_mismatch": N_("Only letters, digits, dot, dash and underscore are allowed."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "decimal_parsing": N_("Enter a number."),
    "decimal_type": N_("Enter a number."),
    "float_parsing": N_("Enter a number."),
    "greater_than_equal": N_("Must be at least %(ge)s."),
    "less_than_equal": N_("Must be at most %(le)s."),
    "decimal_max_places": N_("At most %(decimal_places)s decimal places."),
    "decimal_max_digits": N_("Too many digits."),
    "extra_forbidden": N_("Unknown field."),
    "json_invalid": N_("The body is not valid JSON."),
    "bool_parsing": N_("Enter true or false."),
    "list_type": N_("Enter a list."),
    "string_type": N_("Enter text."),
    "model_attributes_type": N_("Enter an object."),
    "dict_type": N_("Enter an object."),
    "phone_invalid": N_("Enter a phone number: 7 to 20 digits, with spaces, dashes, brackets or a leading +."),
    "nul_character": N_("Text may not contain NUL characters."),
    "null_not_allowed": N_("This field cannot be empty (null); leave it out to keep its value."),
}


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    out = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "form")]
        msgid = _MESSAGES.get(e.get("type", ""), N_("Invalid value."))
        ctx = {k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, (int, float, str))}
        try:
            m = both(msgid, **ctx)
        except (KeyError, TypeError, ValueError):
            m = both(N_("Invalid value."))
        out.append({"field": ".".join(loc) or "body", "message_zh": m["zh"], "message_en": m["en"]})
    return out


def validation_payload(errors: Sequence[Any]) -> dict[str, Any]:
    m = both(N_("Some fields are invalid; nothing was saved."))
    return {
        "error": {
            "code": "invalid",
            "message_zh": m["zh"],
            "message_en": m["en"],
            "fields": field_errors(errors),
        }
    }
