"""What waits for each role in the money workflows: counts for the home pages' to-do lists.

``todo_counts(db, actor)`` returns one ``TodoItem`` per kind of waiting work the actor can act on (only
those with a count above 0): reviews waiting for district and city officers, scores due for experts,
contracts to confirm for providers, drafts to finish and vouchers to redeem for enterprises. Labels are
English msgids (translate with ``_()``); ``url`` is the page where the work is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.programme.workflow_models import DemoApplication, ExpertScore, SubsidyApplication, Voucher, VoucherRound
from chaoyun.programme.workflows import scoring
from chaoyun.programme.workflows import workflow as wf


@dataclass(frozen=True)
class TodoItem:
    label_msgid: str
    count: int
    url: str


def _count(db: Session, model: Any, *where: Any) -> int:
    return int(db.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def todo_counts(db: Session, actor: Actor) -> list[TodoItem]:
    items: list[TodoItem] = []
    role = actor.role
    now = utcnow()
    if role == Role.ENTERPRISE_ADMIN:
        org = actor.org_id
        items += [
            TodoItem(
                N_("Voucher claims to finish and submit"),
                _count(db, Voucher, Voucher.enterprise_org_id == org, Voucher.state == wf.DRAFT),
                "/programme/vouchers",
            ),
            TodoItem(
                N_("Vouchers to redeem"),
                _count(
                    db,
                    Voucher,
                    Voucher.enterprise_org_id == org,
                    Voucher.state == wf.ISSUED,
                    Voucher.round_id.in_(select(VoucherRound.id).where(VoucherRound.redeem_closes > now)),
                ),
                "/programme/vouchers",
            ),
            TodoItem(
                N_("Subsidy applications to finish and submit"),
                _count(
                    db,
                    SubsidyApplication,
                    SubsidyApplication.enterprise_org_id == org,
                    SubsidyApplication.state == wf.DRAFT,
                ),
                "/programme/subsidies",
            ),
        ]
    if role in (Role.ENTERPRISE_ADMIN, Role.PROVIDER_ADMIN):
        items.append(
            TodoItem(
                N_("Demonstration applications to finish and submit"),
                _count(db, DemoApplication, DemoApplication.org_id == actor.org_id, DemoApplication.state == wf.DRAFT),
                "/programme/demonstration",
            )
        )
    if role == Role.PROVIDER_ADMIN:
        items.append(
            TodoItem(
                N_("Voucher contracts to confirm"),
                _count(db, Voucher, Voucher.provider_org_id == actor.org_id, Voucher.state == wf.SUBMITTED),
                "/programme/vouchers",
            )
        )
    if role == Role.DISTRICT_OFFICER and actor.district:
        d = actor.district
        items += [
            TodoItem(
                N_("Vouchers awaiting district review"),
                _count(db, Voucher, Voucher.district == d, Voucher.state == wf.DISTRICT_REVIEW),
                "/programme/vouchers",
            ),
            TodoItem(
                N_("Subsidy applications awaiting district review"),
                _count(
                    db,
                    SubsidyApplication,
                    SubsidyApplication.district == d,
                    SubsidyApplication.state.in_([wf.SUBMITTED, wf.DISTRICT_REVIEW]),
                ),
                "/programme/subsidies",
            ),
            TodoItem(
                N_("Demonstration applications awaiting district review"),
                _count(
                    db,
                    DemoApplication,
                    DemoApplication.district == d,
                    DemoApplication.state.in_([wf.SUBMITTED, wf.DISTRICT_REVIEW]),
                ),
                "/programme/demonstration",
            ),
        ]
    if role in (Role.CITY_OFFICER, Role.PLATFORM_ADMIN):
        items += [
            TodoItem(
                N_("Vouchers awaiting city review"),
                _count(db, Voucher, Voucher.state == wf.CITY_REVIEW),
                "/programme/vouchers",
            ),
            TodoItem(
                N_("Vouchers whose public notice has ended"),
                _count(db, Voucher, Voucher.state == wf.PUBLIC_NOTICE, Voucher.notice_ends_at <= now),
                "/gov/programme/voucher-rounds",
            ),
            TodoItem(
                N_("Approved vouchers awaiting reimbursement"),
                _count(db, Voucher, Voucher.state == wf.APPROVED),
                "/gov/programme/voucher-rounds",
            ),
            TodoItem(
                N_("Subsidy applications awaiting city review"),
                _count(db, SubsidyApplication, SubsidyApplication.state == wf.CITY_REVIEW),
                "/programme/subsidies",
            ),
            TodoItem(
                N_("Subsidies whose public notice has ended"),
                _count(
                    db,
                    SubsidyApplication,
                    SubsidyApplication.state == wf.PUBLIC_NOTICE,
                    SubsidyApplication.notice_ends_at <= now,
                ),
                "/programme/subsidies",
            ),
            TodoItem(
                N_("Approved subsidies awaiting payment"),
                _count(db, SubsidyApplication, SubsidyApplication.state == wf.APPROVED),
                "/programme/subsidies",
            ),
        ]
    if role == Role.EXPERT:
        linked = scoring.linked_org_ids(db, actor.user.id)
        mine = select(ExpertScore.subject_id).where(ExpertScore.expert_user_id == actor.user.id)
        items += [
            TodoItem(
                N_("Subsidy applications to score"),
                _count(
                    db,
                    SubsidyApplication,
                    SubsidyApplication.state == wf.CITY_REVIEW,
                    SubsidyApplication.kind == "innovation",
                    SubsidyApplication.enterprise_org_id.notin_(linked or {0}),
                    SubsidyApplication.id.notin_(mine.where(ExpertScore.subject_type == "subsidy")),
                ),
                "/programme/subsidies",
            ),
            TodoItem(
                N_("Demonstration applications to score"),
                _count(
                    db,
                    DemoApplication,
                    DemoApplication.state == wf.CITY_REVIEW,
                    DemoApplication.org_id.notin_(linked or {0}),
                    DemoApplication.id.notin_(mine.where(ExpertScore.subject_type == "demonstration")),
                ),
                "/programme/demonstration",
            ),
        ]
    return [i for i in items if i.count > 0]
