"""Navigation per audience; each context registers its own entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor

# Menu groups by task, in menu order; "top" entries (Home) stand alone before the groups.
GROUPS: list[tuple[str, str]] = [
    ("devices", N_("Equipment")),
    ("production", N_("Production")),
    ("programme", N_("Policy applications")),
    ("market", N_("Service market")),
    ("admin", N_("Administration")),
]
_GROUP_KEYS = {k for k, _ in GROUPS} | {"top"}
# Items registered without a group land where their path says, else under administration, so none vanish.
_PATH_GROUPS = [
    (("/devices", "/workshop", "/alarms", "/gateways", "/gov/devices"), "devices"),
    (("/apps", "/gov/apps"), "production"),
    (("/programme",), "programme"),
    (("/market", "/provider", "/gov/market", "/gov/provincial"), "market"),
]


@dataclass(frozen=True)
class NavItem:
    audience: str  # government | enterprise | provider | any
    label: str  # English msgid
    path: str
    perm: str
    order: int = 100
    group: str = ""  # one of GROUPS' keys or "top"; empty: inferred from the path

    @property
    def group_key(self) -> str:
        if self.group in _GROUP_KEYS:
            return self.group
        for prefixes, key in _PATH_GROUPS:
            if self.path.startswith(prefixes):
                return key
        return "admin"


@dataclass(frozen=True)
class NavGroup:
    key: str
    label: str  # English msgid
    items: list[NavItem]

    def active(self, path: str) -> bool:
        return any(path.startswith(i.path) for i in self.items)


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


def groups_for(actor: Actor | None) -> tuple[list[NavItem], list[NavGroup]]:
    """The actor's menu: stand-alone entries, then the non-empty task groups in their fixed order."""
    items = for_actor(actor)
    top = [i for i in items if i.group_key == "top"]
    groups = [NavGroup(k, label, [i for i in items if i.group_key == k]) for k, label in GROUPS]
    return top, [g for g in groups if g.items]


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
    if all((p.audience, p.template) != (panel.audience, panel.template) for p in _PANELS):
        _PANELS.append(panel)


def panels_for(db: Session, actor: Actor) -> list[tuple[HomePanel, dict[str, Any]]]:
    from chaoyun.identity.service import has_perm

    chosen = sorted(
        (p for p in _PANELS if p.audience == actor.audience and has_perm(actor, p.perm)), key=lambda p: p.order
    )
    return [(p, p.data(db, actor)) for p in chosen]


# ---------------------------------------------------------------- to-do list on the home page


@dataclass(frozen=True)
class Todo:
    """One line of a home page's to-do list: what waits, how many, where to do it."""

    label: str  # English msgid, e.g. N_("Registrations to approve")
    count: int
    href: str
    order: int = 100


TodoSource = Callable[[Session, Actor], list[Todo]]
_TODOS: dict[str, TodoSource] = {}


def register_todo(name: str, source: TodoSource) -> None:
    """A context adds what its users have waiting; ``source`` returns only the lines the actor can act on
    (check permissions there). Programme workflows plug in here too (name them, e.g. "workflows")."""
    _TODOS.setdefault(name, source)


def todos_for(db: Session, actor: Actor) -> list[Todo]:
    """Every registered source's lines with something waiting, most urgent first."""
    out = [t for name in sorted(_TODOS) for t in _TODOS[name](db, actor) if t.count > 0]
    return sorted(out, key=lambda t: (t.order, t.label))
