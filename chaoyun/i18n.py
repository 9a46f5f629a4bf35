"""Translations: English msgids, Simplified Chinese catalogs per context, Chinese by default.

Each context keeps ``<context>/locale/zh_CN/LC_MESSAGES/messages.po``; all are merged at start-up,
so contexts never edit each other's catalogs, and a msgid must mean the same everywhere (tests/test_i18n.py
fails when two catalogs translate one msgid differently).
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
PACKAGE_DIR = Path(__file__).resolve().parent

_current: ContextVar[str] = ContextVar("chaoyun_locale", default=DEFAULT_LOCALE)


def catalog_files() -> list[Path]:
    return sorted(PACKAGE_DIR.glob("**/locale/zh_CN/LC_MESSAGES/messages.po"))


@lru_cache(maxsize=1)
def _zh() -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in catalog_files():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale="zh_CN")
        for msg in catalog:
            if msg.id and msg.string and not msg.fuzzy and isinstance(msg.id, str):
                merged[msg.id] = str(msg.string)
    return merged


def normalise(locale: str | None) -> str:
    if not locale:
        return DEFAULT_LOCALE
    low = locale.lower().replace("-", "_")
    return "en" if low.startswith("en") else "zh_CN"


def set_locale(locale: str) -> None:
    _current.set(normalise(locale))


def get_locale() -> str:
    return _current.get()


class Msgid(str):
    """A message parameter that is itself a msgid (a file kind, a field's label): it is translated into the
    message's language too, so 缺少“Invoice”文件 reads 缺少“发票”文件. Plain string parameters (names,
    values the user typed) are never translated."""


def translate(msgid: str, locale: str, **params: Any) -> str:
    text = _zh().get(msgid, msgid) if locale == "zh_CN" else msgid
    if not params:
        return text
    return text % {k: translate(v, locale) if isinstance(v, Msgid) else v for k, v in params.items()}


def gettext(msgid: str, **params: Any) -> str:
    return translate(msgid, _current.get(), **params)


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    params.setdefault("num", n)
    return gettext(singular if n == 1 else plural, **params)


def both(msgid: str, **params: Any) -> dict[str, str]:
    """The message in Chinese and English, for API errors that must be clear in both."""
    return {"zh": translate(msgid, "zh_CN", **params), "en": translate(msgid, "en", **params)}


def N_(msgid: str) -> str:
    """Marks a string for extraction without translating it here."""
    return msgid
