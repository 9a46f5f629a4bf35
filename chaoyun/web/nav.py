"""Navigation per audience; each context registers its own entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

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


@dataclass(frozen=True)
class HomePanel:
    """A card on an audience's home page, filled by a context.

    ``template`` is rendered with the page context plus whatever ``data(db, actor)`` returns.
    """

    audience: str  # government | enterprise | provider
    template: str
    perm: str
    data: Callable[[Session, Actor], dict[str, Any]]
    order: int = 100


_PANELS: list[HomePanel] = []


def register_panel(panel: HomePanel) -> None:
    if all(p.template != panel.template for p in _PANELS):
        _PANELS.append(panel)


def panels_for(db: Session, actor: Actor) -> list[tuple[HomePanel, dict[str, Any]]]:
    from chaoyun.identity.service import has_perm

    chosen = sorted(
        (p for p in _PANELS if p.audience == actor.audience and has_perm(actor, p.perm)), key=lambda p: p.order
    )
    return [(p, p.data(db, actor)) for p in chosen]
