"""The one explicit state machine every programme workflow runs on.

The spine is the plan's review chain: draft → submitted → district review → city review → public notice
(公示) → approved / rejected → paid. Each workflow (voucher, subsidy, demonstration, seat) declares its
transitions as data: an action, the states it may start from, the state it leads to and the parties that
may take it. ``Workflow.fire`` is the only way a state changes:

- an action not allowed from the current state is refused with ``IllegalTransition`` (HTTP 409), whose
  message names the action, the current state and what is allowed now, in Chinese and English;
- a party not entitled to the action is refused with ``Forbidden``;
- the change is a conditional UPDATE (``... WHERE state = <from>``), so two concurrent requests can never
  both move the same object out of the same state (e.g. redeem a voucher twice);
- every change writes a ``wf_transitions`` row and an audit entry in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from chaoyun.errors import Conflict, Forbidden, Invalid
from chaoyun.i18n import N_, get_locale, translate
from chaoyun.identity import audit
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.programme.workflow_models import WorkflowTransition

# States (the spine plus a few workflow-specific ones).
DRAFT = "draft"
SUBMITTED = "submitted"
ISSUED = "issued"
DISTRICT_REVIEW = "district_review"
CITY_REVIEW = "city_review"
PUBLIC_NOTICE = "public_notice"
APPROVED = "approved"
REJECTED = "rejected"
PAID = "paid"
WITHDRAWN = "withdrawn"
WAITING = "waiting"
ALLOCATED = "allocated"
RELEASED = "released"

STATE_LABELS: dict[str, str] = {
    DRAFT: N_("Draft"),
    SUBMITTED: N_("Submitted"),
    ISSUED: N_("Voucher issued"),
    DISTRICT_REVIEW: N_("District review"),
    CITY_REVIEW: N_("City review"),
    PUBLIC_NOTICE: N_("Public notice"),
    APPROVED: N_("Approved"),
    REJECTED: N_("Rejected"),
    PAID: N_("Paid"),
    WITHDRAWN: N_("Withdrawn"),
    WAITING: N_("Waiting list"),
    ALLOCATED: N_("Seat allocated"),
    RELEASED: N_("Seat released"),
}
CLOSED_STATES = {REJECTED, PAID, WITHDRAWN, RELEASED}

# Parties: who stands where towards one object.
APPLICANT = "applicant"
PROVIDER = "provider"
DISTRICT = "district"
CITY = "city"
EXPERT = "expert"
SYSTEM = "system"

PARTY_LABELS: dict[str, str] = {
    APPLICANT: N_("the applicant"),
    PROVIDER: N_("the service provider"),
    DISTRICT: N_("the district office"),
    CITY: N_("the city bureau"),
    EXPERT: N_("an expert"),
    SYSTEM: N_("the system"),
}

ACTION_LABELS: dict[str, str] = {
    "submit": N_("Submit"),
    "withdraw": N_("Withdraw"),
    "confirm_contract": N_("Confirm the contract"),
    "decline_contract": N_("Decline the contract"),
    "redeem": N_("Submit for redemption"),
    "accept": N_("Accept for review"),
    "district_pass": N_("Pass district review"),
    "district_reject": N_("Reject (district)"),
    "city_pass": N_("Pass city review and publish notice"),
    "city_reject": N_("Reject (city)"),
    "conclude_notice": N_("Conclude public notice and approve"),
    "pay": N_("Record payment"),
    "select": N_("Select and publish notice"),
    "not_selected": N_("Not selected"),
    "allocate": N_("Allocate seat"),
    "release": N_("Release seat"),
}


class HasState(Protocol):
    id: Any
    state: Any


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    parties: frozenset[str]


def t(action: str, sources: Iterable[str], target: str, *parties: str) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(parties))


class IllegalTransition(Conflict):
    """An action asked for in a state that does not allow it; the message is clear in both languages."""

    code = "illegal_transition"
    MSGID = N_(
        "“%(action)s” is not possible while this %(subject)s is in state “%(state)s”. Possible now: %(allowed)s."
    )

    def __init__(self, subject: str, action: str, state: str, allowed: list[str]) -> None:
        super().__init__(self.MSGID, action=action, state=state, subject=subject, allowed=",".join(allowed))
        self.subject = subject
        self.action = action
        self.state = state
        self.allowed = allowed

    def _render(self, locale: str) -> str:
        none = translate(N_("nothing"), locale)
        allowed = (", " if locale == "en" else "、").join(
            translate(ACTION_LABELS.get(a, a), locale) for a in self.allowed
        )
        return translate(
            self.MSGID,
            locale,
            action=translate(ACTION_LABELS.get(self.action, self.action), locale),
            subject=translate(self.subject, locale),
            state=translate(STATE_LABELS.get(self.state, self.state), locale),
            allowed=allowed or none,
        )

    def messages(self) -> dict[str, str]:
        return {"zh": self._render("zh_CN"), "en": self._render("en")}

    def message(self) -> str:
        return self._render(get_locale())


class WrongParty(Forbidden):
    MSGID = N_("Only %(parties)s may “%(action)s” at this stage.")

    def __init__(self, action: str, parties: frozenset[str]) -> None:
        super().__init__(self.MSGID, action=action, parties=",".join(sorted(parties)))
        self.action = action
        self.party_keys = sorted(parties)

    def _render(self, locale: str) -> str:
        sep = " / "
        return translate(
            self.MSGID,
            locale,
            parties=sep.join(translate(PARTY_LABELS[p], locale) for p in self.party_keys),
            action=translate(ACTION_LABELS.get(self.action, self.action), locale),
        )

    def messages(self) -> dict[str, str]:
        return {"zh": self._render("zh_CN"), "en": self._render("en")}

    def message(self) -> str:
        return self._render(get_locale())


class Workflow:
    def __init__(self, name: str, subject_label: str, transitions: list[Transition]) -> None:
        self.name = name
        self.subject_label = subject_label
        self.transitions = {tr.action: tr for tr in transitions}

    def allowed_actions(self, state: str, parties: Iterable[str] | None = None) -> list[str]:
        ps = set(parties) if parties is not None else None
        return [a for a, tr in self.transitions.items() if state in tr.sources and (ps is None or tr.parties & ps)]

    def check(self, state: str, action: str, parties: Iterable[str]) -> Transition:
        tr = self.transitions.get(action)
        if tr is None:
            raise Invalid(N_("Unknown action: %(action)s."), action=action, field="action")
        if state not in tr.sources:
            raise IllegalTransition(self.subject_label, action, state, self.allowed_actions(state))
        if not tr.parties & set(parties):
            raise WrongParty(action, tr.parties)
        return tr

    def fire(
        self,
        db: Session,
        actor: Actor | None,
        obj: HasState,
        action: str,
        parties: Iterable[str],
        *,
        note: str = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> Transition:
        """Move ``obj`` by ``action``; caller commits. Extra fields set on ``obj`` flush with it."""
        from_state = str(obj.state)
        tr = self.check(from_state, action, parties)
        # Conditional UPDATE: if a concurrent request already moved the object, nothing matches.
        model = type(obj)
        res = db.execute(
            update(model)
            .where(model.id == obj.id, model.state == from_state)
            .values(state=tr.target)
            .execution_options(synchronize_session=False)
        )
        if rowcount(res) != 1:
            db.rollback()
            fresh = db.get(model, obj.id)
            now_state = str(fresh.state) if fresh is not None else from_state
            raise IllegalTransition(self.subject_label, action, now_state, self.allowed_actions(now_state))
        obj.state = tr.target
        db.add(
            WorkflowTransition(
                workflow=self.name,
                subject_id=obj.id,
                action=action,
                from_state=from_state,
                to_state=tr.target,
                actor_user_id=actor.user.id if actor else None,
                actor_username=actor.user.username if actor else "system",
                note=note[:2000],
            )
        )
        audit.record_by(
            db,
            actor,
            f"{self.name}.{action}"[:40],
            self.name,
            obj.id,
            before={"state": from_state, **(before or {})},
            after={"state": tr.target, **({"note": note} if note else {}), **(after or {})},
        )
        return tr


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE (typed Result objects do not declare it)."""
    return int(getattr(result, "rowcount", 0))


def history(db: Session, workflow: str, subject_id: int) -> list[WorkflowTransition]:
    from sqlalchemy import select

    return list(
        db.execute(
            select(WorkflowTransition)
            .where(WorkflowTransition.workflow == workflow, WorkflowTransition.subject_id == subject_id)
            .order_by(WorkflowTransition.id)
        ).scalars()
    )


def government_parties(actor: Actor, district: str | None) -> set[str]:
    """What a government actor is towards an object in ``district``."""
    parties: set[str] = set()
    if actor.role in (Role.PLATFORM_ADMIN, Role.CITY_OFFICER):
        parties.add(CITY)
    if actor.role == Role.DISTRICT_OFFICER and actor.district is not None and actor.district == district:
        parties.add(DISTRICT)
    if actor.role == Role.EXPERT:
        parties.add(EXPERT)
    return parties


def is_org_admin(actor: Actor) -> bool:
    return actor.role in (Role.ENTERPRISE_ADMIN, Role.PROVIDER_ADMIN)
