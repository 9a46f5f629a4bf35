"""Catalog maintenance: extract each context's strings and merge them into its zh_CN catalog.

``python -m chaoyun.i18n_tools update [context ...]`` keeps existing translations and adds new msgids empty;
``python -m chaoyun.i18n_tools missing`` lists msgids without a Chinese translation in the context's own
catalogs (or the shared web catalog); ``python -m chaoyun.i18n_tools collisions`` lists msgids that two
catalogs translate differently. All catalogs are merged into one dictionary at run time, so a msgid must mean
one thing everywhere: a word that needs another translation in one context gets its own msgid
("Submitted at" next to "Submitted"). tests/test_i18n.py runs both checks.
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


def catalogs_of(ctx: Path) -> list[Path]:
    """A context's catalogs: its own and those of sub-packages (programme/workflows, devices/connectors)."""
    return sorted(ctx.glob("**/locale/zh_CN/LC_MESSAGES/messages.po"))


def catalog_name(path: Path) -> str:
    return str(path.relative_to(PACKAGE)).split("/locale/")[0]


def translations(path: Path) -> dict[str, str]:
    return {
        m.id: str(m.string)
        for m in load(path)
        if isinstance(m.id, str) and m.id and m.string and not m.fuzzy
    }


def own_translations(ctx: Path) -> dict[str, str]:
    """What a context may rely on: its own catalogs, then the shared web catalog."""
    known: dict[str, str] = {}
    for path in [catalog_path(PACKAGE / "web"), *catalogs_of(ctx)]:
        if path.exists():
            known.update(translations(path))
    return known


def collisions() -> dict[str, dict[str, list[str]]]:
    """msgid -> {translation: [catalogs]} for every msgid that two catalogs translate differently."""
    from chaoyun.i18n import catalog_files

    seen: dict[str, dict[str, list[str]]] = {}
    for path in catalog_files():
        for msgid, text in translations(path).items():
            seen.setdefault(msgid, {}).setdefault(text, []).append(catalog_name(path))
    return {k: v for k, v in seen.items() if len(v) > 1}


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
        known = own_translations(ctx)
        for msgid in sorted(ids):
            if msgid not in cat and msgid not in known:
                cat.add(msgid, "")
        if not ids and not path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, cat, width=0, sort_output=True, omit_header=False)


def missing() -> dict[str, list[str]]:
    """msgids used in a context's code or templates that its own catalogs (or web's) do not translate.

    Leaning on another context's catalog is how "Submitted" came to read 提交时间 in a workflow: each
    context translates what it shows.
    """
    out: dict[str, list[str]] = {}
    for ctx in contexts():
        ids = extract(ctx) | (extract_shared() if ctx.name == "web" else set())
        known = own_translations(ctx)
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
    elif sys.argv[1:] == ["collisions"]:
        clashes = collisions()
        for msgid, texts in clashes.items():
            print(repr(msgid), texts)
        sys.exit(1 if clashes else 0)
    else:
        print("usage: python -m chaoyun.i18n_tools update [context ...]|missing|collisions")
        sys.exit(2)
