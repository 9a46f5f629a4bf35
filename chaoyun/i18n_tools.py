"""Catalog maintenance: extract each context's strings and merge them into its zh_CN catalog.

``python -m chaoyun.i18n_tools update [context ...]`` keeps existing translations and adds new msgids empty;
``python -m chaoyun.i18n_tools missing`` lists msgids without a Chinese translation (the test uses it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

PACKAGE = Path(__file__).resolve().parent
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def contexts() -> list[Path]:
    return sorted(p for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def catalog_path(ctx: Path) -> Path:
    return ctx / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"


def extract(ctx: Path) -> set[str]:
    ids: set[str] = set()
    for _fn, _ln, msg, _comments, _context in extract_from_dir(
        str(ctx), METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        if isinstance(msg, tuple):
            ids.update(m for m in msg if m)
        elif msg:
            ids.add(msg)
    return ids


def extract_shared() -> set[str]:
    """Strings in top-level modules (errors, i18n, settings) belong to the web catalog."""
    ids: set[str] = set()
    for _fn, _ln, msg, _c, _x in extract_from_dir(str(PACKAGE), [("*.py", "python")], keywords=KEYWORDS):
        if isinstance(msg, str) and msg:
            ids.add(msg)
    return ids


def load(path: Path) -> Catalog:
    if path.exists():
        with path.open("rb") as fh:
            return read_po(fh, locale="zh_CN")
    return Catalog(locale="zh_CN", project="chaoyun")


def update(only: list[str] | None = None) -> None:
    for ctx in contexts():
        if only and ctx.name not in only:
            continue
        ids = extract(ctx) | (extract_shared() if ctx.name == "web" else set())
        path = catalog_path(ctx)
        cat = load(path)
        for msgid in sorted(ids):
            if msgid not in cat:
                cat.add(msgid, "")
        if not ids and not path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, cat, width=0, sort_output=True, omit_header=False)


def missing() -> dict[str, list[str]]:
    """msgids used in code or templates that have no Chinese translation in any catalog."""
    from chaoyun.i18n import _zh

    known = _zh()
    out: dict[str, list[str]] = {}
    for ctx in contexts():
        ids = extract(ctx) | (extract_shared() if ctx.name == "web" else set())
        gaps = sorted(i for i in ids if i not in known)
        if gaps:
            out[ctx.name] = gaps
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["update"]:
        update(sys.argv[2:] or None)
    elif sys.argv[1:] == ["missing"]:
        gaps = missing()
        for ctx, ids in gaps.items():
            for i in ids:
                print(f"{ctx}: {i}")
        sys.exit(1 if gaps else 0)
    else:
        print("usage: python -m chaoyun.i18n_tools update|missing")
        sys.exit(2)
