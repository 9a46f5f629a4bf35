"""Navigation per audience; each context registers its own entries."""

from __future__ import annotations

from dataclasses import dataclass

from chaoyun.identity.permissions import Actor


@dataclass(frozen=True)
class NavItem:
    audience: str  # government | enterprise | provider | any
    label: str  # English msgid
    path: str
    perm: str
    order: int = 100


_ITEMS: list[NavItem] = []


def register(*items: NavItem) -> None:
    for item in items:
        if item not in _ITEMS:
            _ITEMS.append(item)


def for_actor(actor: Actor | None) -> list[NavItem]:
    if actor is None:
        return []
    out = [i for i in _ITEMS if i.audience in (actor.audience, "any") and actor.has(i.perm)]
    return sorted(out, key=lambda i: (i.order, i.label))
