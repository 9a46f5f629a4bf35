"""Diagnosis (把脉问诊): self-assessment, platform pre-fill, expert review, computed digital level.

draft → submitted → completed (an expert may return a submitted diagnosis to draft, with a reason).
Answers the platform fills from its own records are marked evidenced. Completed diagnoses count toward
the diagnosis target; the level history of each enterprise feeds the digital-upgrade target.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.audit import record_by
from chaoyun.identity.models import EnterpriseProfile, Organisation
from chaoyun.identity.permissions import Actor, can_read_org, visible_orgs
from chaoyun.programme import evidence as evidence_mod
from chaoyun.programme import permissions as perms
from chaoyun.programme.models import Diagnosis, DiagnosisAdjustment
from chaoyun.programme.pack import get_pack
from chaoyun.programme.questionnaire import Item, Questionnaire, Score, get_questionnaire, score
from chaoyun.programme.targets import RuleResult, register_rule, register_series

DRAFT, SUBMITTED, COMPLETED = "draft", "submitted", "completed"
STATUS_LABELS = {DRAFT: N_("draft"), SUBMITTED: N_("submitted"), COMPLETED: N_("completed")}
TRANSITIONS: dict[str, set[str]] = {DRAFT: {SUBMITTED}, SUBMITTED: {COMPLETED, DRAFT}, COMPLETED: set()}


def questionnaire() -> Questionnaire:
    return get_questionnaire(get_pack().diagnosis.questionnaire)


def _snapshot(d: Diagnosis) -> dict[str, Any]:
    return {"status": d.status, "score": str(d.score) if d.score is not None else None, "level": d.level}


def _transition(db: Session, actor: Actor, d: Diagnosis, to: str, action: str, **changes: Any) -> None:
    if to not in TRANSITIONS.get(d.status, set()):
        raise Conflict(N_("A diagnosis that is %(current)s cannot be made %(target)s."), current=d.status, target=to)
    before = _snapshot(d)
    d.status = to
    for k, v in changes.items():
        setattr(d, k, v)
    db.flush()
    record_by(db, actor, action, "diagnosis", str(d.id), before, _snapshot(d))


def get(db: Session, actor: Actor, diagnosis_id: int) -> Diagnosis:
    d = db.get(Diagnosis, diagnosis_id)
    org = db.get(Organisation, d.org_id) if d else None
    if d is None or org is None or not can_read_org(actor, org):
        raise NotFound(N_("No such diagnosis, or it is not yours to see."))
    return d


def list_for(
    db: Session, actor: Actor, status: str | None = None, limit: int = 200
) -> list[tuple[Diagnosis, Organisation]]:
    q = (
        select(Diagnosis, Organisation)
        .join(Organisation, Organisation.id == Diagnosis.org_id)
        .where(visible_orgs(actor))
        .order_by(Diagnosis.id.desc())
        .limit(limit)
    )
    if status:
        q = q.where(Diagnosis.status == status)
    return [(d, o) for d, o in db.execute(q).all()]


def start(db: Session, actor: Actor) -> Diagnosis:
    if not actor.has(perms.DIAGNOSIS_ANSWER) or actor.org.kind != "enterprise":
        raise Forbidden(N_("Only enterprises start a self-assessment."))
    open_one = db.execute(
        select(Diagnosis).where(Diagnosis.org_id == actor.org_id, Diagnosis.status.in_((DRAFT, SUBMITTED)))
    ).scalar()
    if open_one is not None:
        raise Conflict(N_("Your enterprise already has a diagnosis in progress (no. %(id)s)."), id=open_one.id)
    d = Diagnosis(
        org_id=actor.org_id,
        questionnaire=questionnaire().key,
        status=DRAFT,
        answers={},
        evidenced={},
        created_by=actor.user.id,
    )
    db.add(d)
    db.flush()
    prefill(db, d)
    record_by(db, actor, "diagnosis.start", "diagnosis", str(d.id), None, _snapshot(d) | {"evidenced": d.evidenced})
    db.commit()
    return d


def prefill(db: Session, d: Diagnosis) -> list[str]:
    """Fill what the platform knows from its own records and mark it evidenced. Returns the filled keys."""
    q = questionnaire()
    ev = evidence_mod.for_org(db, d.org_id)
    answers = copy.deepcopy(d.answers or {})
    evidenced = dict(d.evidenced or {})
    filled: list[str] = []
    if ev.devices_available and ev.devices_total > 0:
        e = dict(answers.get("evidence") or {})
        e["digitised_devices"] = ev.devices_total
        e["networked_devices"] = ev.devices_reporting
        answers["evidence"] = e
        evidenced["digitised_devices"] = N_("devices registered on the platform")
        evidenced["networked_devices"] = N_("devices that sent data in the last 30 days")
        filled += ["digitised_devices", "networked_devices"]
        areas = evidence_mod.collection_areas(ev)
        if areas:
            have = set(answers.get("data_collection_areas") or [])
            answers["data_collection_areas"] = sorted(have | set(areas))
            evidenced["data_collection_areas"] = N_("areas whose devices report data automatically")
            filled.append("data_collection_areas")
    if ev.devices_reporting > 0:
        trends = evidence_mod.results_trends(db, d.org_id)
        for key, value, why in (
            (
                "energy_trend",
                trends.energy_trend,
                N_("energy per good unit measured on the platform, last 30 days against the 30 before"),
            ),
            (
                "pass_rate_trend",
                trends.pass_rate_trend,
                N_("good share of the output counted on the platform, last 30 days against the 30 before"),
            ),
        ):
            if value is not None:
                answers[key] = value
                evidenced[key] = why
                filled.append(key)
    signals = evidence_mod.scene_signals(db, d.org_id, ev)
    scenes = dict(answers.get("scenes") or {})
    for s in q.scenes:
        if any(signals.get(k) for k in s.l3_evidence) and int(scenes.get(s.key, 0) or 0) < 3:
            scenes[s.key] = 3
            evidenced[f"scene:{s.key}"] = N_("runs in real time on the platform (alarms, SPC or traceability)")
            filled.append(f"scene:{s.key}")
    if scenes:
        answers["scenes"] = scenes
    d.answers = answers
    d.evidenced = evidenced
    return filled


def clean_answers(q: Questionnaire, raw: dict[str, Any]) -> dict[str, Any]:
    """Keep only answers the questionnaire knows, in the right shape; refuse unknown option keys."""
    out: dict[str, Any] = {}
    for it in q.items():
        if it.type == "rate" or it.key not in raw:
            continue
        out[it.key] = _clean_item(it, raw[it.key])
    ev = raw.get("evidence") or {}
    if ev:
        e: dict[str, int] = {}
        for f in q.evidence_fields:
            v = ev.get(f.key)
            if v in (None, ""):
                continue
            try:
                n = int(v)
            except (TypeError, ValueError) as exc:
                raise Invalid(N_("%(name)s must be a whole number."), field=f.key, name=f.key) from exc
            if n < 0:
                raise Invalid(N_("%(name)s cannot be negative."), field=f.key, name=f.key)
            e[f.key] = n
        if "device_count" in e:
            for k in ("digitised_devices", "networked_devices"):
                if e.get(k, 0) > e["device_count"]:
                    raise Invalid(N_("More digitised or networked devices than devices in total."), field=k)
        out["evidence"] = e
    scenes = raw.get("scenes") or {}
    if scenes:
        s: dict[str, int] = {}
        for sc in q.scenes:
            if sc.key in scenes and scenes[sc.key] not in (None, ""):
                try:
                    lv = int(scenes[sc.key])
                except (TypeError, ValueError) as exc:
                    raise Invalid(N_("A scene level is between 0 and 4."), field=f"scene:{sc.key}") from exc
                if not 0 <= lv <= 4:
                    raise Invalid(N_("A scene level is between 0 and 4."), field=f"scene:{sc.key}")
                s[sc.key] = lv
        out["scenes"] = s
    return out


def _clean_item(it: Item, value: Any) -> Any:
    keys = {o.key for o in it.options}
    if it.type == "single":
        if value in (None, ""):
            return None
        if value not in keys:
            raise Invalid(N_("Unknown answer for %(item)s."), field=it.key, item=it.key)
        return value
    vals = value if isinstance(value, list) else [value]
    vals = [v for v in vals if v not in (None, "")]
    bad = [v for v in vals if v not in keys]
    if bad:
        raise Invalid(N_("Unknown answer for %(item)s."), field=it.key, item=it.key)
    return sorted(set(vals))


def save_answers(db: Session, actor: Actor, diagnosis_id: int, raw: dict[str, Any]) -> Diagnosis:
    d = get(db, actor, diagnosis_id)
    if not actor.has(perms.DIAGNOSIS_ANSWER) or d.org_id != actor.org_id:
        raise Forbidden(N_("Your role does not allow this."))
    if d.status != DRAFT:
        raise Conflict(N_("Answers can only be changed while the diagnosis is a draft."))
    cleaned = clean_answers(questionnaire(), raw)
    answers = copy.deepcopy(d.answers or {})
    evidenced = dict(d.evidenced or {})
    for k, v in cleaned.items():
        if k == "evidence":
            merged = dict(answers.get("evidence") or {})
            for ek, evv in v.items():
                # An evidenced number changed by the enterprise is no longer evidenced.
                if ek in evidenced and merged.get(ek) != evv:
                    evidenced.pop(ek)
                merged[ek] = evv
            answers["evidence"] = merged
        elif k == "scenes":
            merged_s = dict(answers.get("scenes") or {})
            for sk, lv in v.items():
                if f"scene:{sk}" in evidenced and merged_s.get(sk) != lv:
                    evidenced.pop(f"scene:{sk}")
                merged_s[sk] = lv
            answers["scenes"] = merged_s
        else:
            if k in evidenced and answers.get(k) != v:
                evidenced.pop(k)
            answers[k] = v
    d.answers = answers
    d.evidenced = evidenced
    result = score(questionnaire(), answers)
    d.score = result.total
    db.flush()
    record_by(db, actor, "diagnosis.answer", "diagnosis", str(d.id), None, {"score": str(result.total)})
    db.commit()
    return d


def submit(db: Session, actor: Actor, diagnosis_id: int) -> Diagnosis:
    d = get(db, actor, diagnosis_id)
    if not actor.has(perms.DIAGNOSIS_ANSWER) or d.org_id != actor.org_id:
        raise Forbidden(N_("Your role does not allow this."))
    _transition(db, actor, d, SUBMITTED, "diagnosis.submit", submitted_at=utcnow())
    db.commit()
    return d


def _expert(actor: Actor) -> None:
    if not actor.has(perms.DIAGNOSIS_REVIEW):
        raise Forbidden(N_("Only experts review diagnoses."))


def adjust(db: Session, actor: Actor, diagnosis_id: int, item_key: str, value: Any, reason: str) -> Diagnosis:
    """Expert on site: change one answer (an item, ``evidence:<field>`` or ``scene:<key>``), with a reason."""
    d = get(db, actor, diagnosis_id)
    _expert(actor)
    if d.status != SUBMITTED:
        raise Conflict(N_("Only a submitted diagnosis can be adjusted."))
    if not reason or not reason.strip():
        raise Invalid(N_("An adjustment needs a reason."), field="reason")
    q = questionnaire()
    answers = copy.deepcopy(d.answers or {})
    if item_key.startswith("scene:"):
        sk = item_key[6:]
        if q.scene(sk) is None:
            raise Invalid(N_("Unknown answer for %(item)s."), field="item_key", item=item_key)
        cleaned = clean_answers(q, {"scenes": {sk: value}})
        before = (answers.get("scenes") or {}).get(sk)
        answers.setdefault("scenes", {})[sk] = cleaned["scenes"].get(sk, 0)
        after: Any = answers["scenes"][sk]
    elif item_key.startswith("evidence:"):
        ek = item_key[9:]
        cleaned = clean_answers(q, {"evidence": {ek: value}})
        if ek not in cleaned.get("evidence", {}):
            raise Invalid(N_("Unknown answer for %(item)s."), field="item_key", item=item_key)
        before = (answers.get("evidence") or {}).get(ek)
        answers.setdefault("evidence", {})[ek] = cleaned["evidence"][ek]
        after = cleaned["evidence"][ek]
    else:
        it = q.item(item_key)
        if it is None or it.type == "rate":
            raise Invalid(N_("Unknown answer for %(item)s."), field="item_key", item=item_key)
        before = answers.get(item_key)
        after = _clean_item(it, value)
        answers[item_key] = after
    d.answers = answers
    result = score(q, answers)
    d.score = result.total
    adj = DiagnosisAdjustment(
        diagnosis_id=d.id,
        item_key=item_key,
        before=before,
        after=after,
        reason=reason.strip(),
        expert_user_id=actor.user.id,
    )
    db.add(adj)
    db.flush()
    record_by(
        db,
        actor,
        "diagnosis.adjust",
        "diagnosis",
        str(d.id),
        {"item": item_key, "value": before},
        {"item": item_key, "value": after, "reason": reason.strip()},
    )
    db.commit()
    return d


def return_to_enterprise(db: Session, actor: Actor, diagnosis_id: int, reason: str) -> Diagnosis:
    d = get(db, actor, diagnosis_id)
    _expert(actor)
    if not reason.strip():
        raise Invalid(N_("Give the reason for returning the diagnosis."), field="reason")
    _transition(db, actor, d, DRAFT, "diagnosis.return", expert_summary=reason.strip())
    db.commit()
    return d


def apply_score(d: Diagnosis, result: Score) -> None:
    d.score = result.total
    d.level = result.level
    d.scene_levels = dict(result.scenes)
    d.group_scores = {k: str(v) for k, v in result.groups.items()}


def complete(db: Session, actor: Actor, diagnosis_id: int, summary: str = "") -> Diagnosis:
    d = get(db, actor, diagnosis_id)
    _expert(actor)
    result = score(questionnaire(), d.answers or {})
    now = utcnow()
    _transition(
        db,
        actor,
        d,
        COMPLETED,
        "diagnosis.complete",
        expert_user_id=actor.user.id,
        expert_summary=summary.strip(),
        completed_at=now,
        year=now.year,
    )
    apply_score(d, result)
    db.flush()
    db.commit()
    return d


def adjustments(db: Session, diagnosis_id: int) -> list[DiagnosisAdjustment]:
    return list(
        db.execute(
            select(DiagnosisAdjustment)
            .where(DiagnosisAdjustment.diagnosis_id == diagnosis_id)
            .order_by(DiagnosisAdjustment.id)
        )
        .scalars()
        .all()
    )


def current_score(d: Diagnosis) -> Score:
    return score(questionnaire(), d.answers or {})


# ---------------------------------------------------------------- target rules


def _completed(db: Session, year: int, district: str | None, cluster: str | None) -> list[tuple[int, int, int]]:
    """(org_id, year, level) of completed diagnoses up to ``year``, in the requested scope."""
    q = (
        select(Diagnosis.org_id, Diagnosis.year, Diagnosis.level)
        .where(Diagnosis.status == COMPLETED, Diagnosis.year <= year)
        .order_by(Diagnosis.org_id, Diagnosis.year, Diagnosis.completed_at, Diagnosis.id)
    )
    if district or cluster:
        q = q.join(Organisation, Organisation.id == Diagnosis.org_id).join(
            EnterpriseProfile, EnterpriseProfile.org_id == Diagnosis.org_id
        )
    if district:
        q = q.where(Organisation.district == district)
    if cluster:
        q = q.where(EnterpriseProfile.cluster == cluster)
    return [(int(o), int(y or 0), int(lv or 0)) for o, y, lv in db.execute(q).all()]


def _first_completed(db: Session, up_to: int, district: str | None, cluster: str | None) -> dict[int, int]:
    """org id → year of its first completed diagnosis, for those completed by ``up_to``."""
    q = (
        select(Diagnosis.org_id, func.min(Diagnosis.year))
        .where(Diagnosis.status == COMPLETED, Diagnosis.year <= up_to)
        .group_by(Diagnosis.org_id)
    )
    if district or cluster:  # only enterprises are diagnosed: join just to filter by area
        q = q.join(Organisation, Organisation.id == Diagnosis.org_id).join(
            EnterpriseProfile, EnterpriseProfile.org_id == Diagnosis.org_id
        )
    if district:
        q = q.where(Organisation.district == district)
    if cluster:
        q = q.where(EnterpriseProfile.cluster == cluster)
    return {int(o): int(y or 0) for o, y in db.execute(q).all()}


def completed_rule(db: Session, year: int, district: str | None, cluster: str | None) -> RuleResult:
    ids = sorted(_first_completed(db, year, district, cluster))
    return RuleResult(value=len(ids), enterprise_ids=ids)


def completed_series(db: Session, years: list[int], district: str | None, cluster: str | None) -> dict[int, RuleResult]:
    first = _first_completed(db, max(years), district, cluster)
    out = {}
    for y in years:
        ids = sorted(o for o, fy in first.items() if fy <= y)
        out[y] = RuleResult(value=len(ids), enterprise_ids=ids)
    return out


def _upgrade_years(db: Session, up_to: int, district: str | None, cluster: str | None) -> dict[int, int]:
    """org id → the year its level first rose by ``upgrade_min_rise`` above its first completed diagnosis."""
    rise = get_pack().diagnosis.upgrade_min_rise
    baseline: dict[int, int] = {}
    upgraded: dict[int, int] = {}
    for org_id, y, level in _completed(db, up_to, district, cluster):
        if org_id not in baseline:
            baseline[org_id] = level
        elif org_id not in upgraded and level - baseline[org_id] >= rise:
            upgraded[org_id] = y
    return upgraded


def upgraded_rule(db: Session, year: int, district: str | None, cluster: str | None) -> RuleResult:
    """Enterprises whose level rose by at least the pack's ``upgrade_min_rise`` above their first
    completed diagnosis, by the end of ``year``."""
    ids = sorted(_upgrade_years(db, year, district, cluster))
    return RuleResult(value=len(ids), enterprise_ids=ids)


def upgraded_series(db: Session, years: list[int], district: str | None, cluster: str | None) -> dict[int, RuleResult]:
    up = _upgrade_years(db, max(years), district, cluster)
    out = {}
    for y in years:
        ids = sorted(o for o, uy in up.items() if uy <= y)
        out[y] = RuleResult(value=len(ids), enterprise_ids=ids)
    return out


register_rule("diagnosis.completed", completed_rule)
register_rule("diagnosis.upgraded", upgraded_rule)
register_series("diagnosis.completed", completed_series)
register_series("diagnosis.upgraded", upgraded_series)


def level_history(db: Session, actor: Actor, org_id: int) -> list[tuple[int | None, int | None, Decimal | None]]:
    org = db.get(Organisation, org_id)
    if org is None or not can_read_org(actor, org):
        raise NotFound(N_("No such organisation, or it is not yours to see."))
    rows = db.execute(
        select(Diagnosis.year, Diagnosis.level, Diagnosis.score)
        .where(Diagnosis.org_id == org_id, Diagnosis.status == COMPLETED)
        .order_by(Diagnosis.completed_at)
    ).all()
    return [(y, lv, s) for y, lv, s in rows]
