"""docs/interfaces.md lists only cross-context calls that exist, and each of them is exercised by a test."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"`(chaoyun(?:\.[a-z_]+)+)\(")


def _named() -> list[str]:
    return sorted(set(NAME.findall((ROOT / "docs" / "interfaces.md").read_text(encoding="utf-8"))))


def test_every_listed_function_exists() -> None:
    names = _named()
    assert len(names) >= 25, names
    missing = []
    for dotted in names:
        module, _, fn = dotted.rpartition(".")
        obj = getattr(importlib.import_module(module), fn, None)
        if not callable(obj):
            missing.append(dotted)
    assert not missing, f"docs/interfaces.md names functions that do not exist: {missing}"


def test_every_listed_function_is_exercised_by_a_test() -> None:
    sources = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py") if p.name != "test_interfaces.py"
    )
    untested = []
    for dotted in _named():
        fn = dotted.rsplit(".", 1)[1]
        if not re.search(rf"\b{re.escape(fn)}\(", sources):
            untested.append(dotted)
    assert not untested, f"no test calls these listed functions: {untested}"
