"""Demo records for the programme: counted cloud adoptions and completed diagnoses in 2018–2020, and
current declarations of the simulated factories verified from their real use.

What enterprises and officers *typed* (which enterprise declared what, when, with which provider; diagnosis
answers) is drawn deterministically (seeded RNG over enterprises ordered by id). What the platform *computes*
is never drawn: the 2018–2020 declarations were checked by district officers before the platform held any
record of those firms, so their evidence is "checked by the officer" and their stars come from the pack's
star rule over that (empty) platform evidence; the simulated factories' current declarations are verified
by ``adoptions_from_use`` through the real ``verify`` over their devices' data and their people's app use.
Idempotent (skips enterprises that already have records). The demo users' own enterprises are left without
records so they can try the flows.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.programme.cloud_adoption import star_rating
from chaoyun.programme.evidence import OrgEvidence
from chaoyun.programme.models import CloudAdoption, Diagnosis
from chaoyun.programme.pack import get_pack
from chaoyun.programme.questionnaire import get_questionnaire, score

DEMO_USERS = ("factory", "factory2", "operator")


def plausible_answers(rng: random.Random, strength: float) -> dict[str, Any]:
    """A plausible questionnaire answer set; ``strength`` 0..1 shifts it toward better answers."""
    q = get_questionnaire(get_pack().diagnosis.questionnaire)
    ans: dict[str, Any] = {}
    for it in q.items():
        if it.type == "rate":
            continue
        if it.type == "single":
            idx = min(len(it.options) - 1, int(strength * len(it.options) + rng.random() * 1.5))
            ans[it.key] = it.options[idx].key
        else:
            ans[it.key] = sorted(o.key for o in it.options if rng.random() < strength)
    total = rng.randint(20, 200)
    ans["evidence"] = {
        "device_count": total,
        "digitised_devices": int(total * min(1.0, strength + rng.random() * 0.2)),
        "networked_devices": int(total * strength * 0.8),
    }
    top = 1 + int(strength * 3.5)
    ans["scenes"] = {s.key: max(0, min(4, top - rng.randint(0, 1))) for s in q.scenes}
    return ans


def seed(db: Session, adoption_share: float = 0.45, diagnosis_share: float = 0.12) -> dict[str, int]:
    pack = get_pack()
    q = get_questionnaire(pack.diagnosis.questionnaire)
    skip = set(
        db.execute(
            select(Membership.org_id).join(User, User.id == Membership.user_id).where(User.username.in_(DEMO_USERS))
        ).scalars()
    )
    have_a = set(db.execute(select(CloudAdoption.org_id)).scalars())
    have_d = set(db.execute(select(Diagnosis.org_id)).scalars())
    orgs = (
        db.execute(
            select(Organisation.id)
            .where(Organisation.kind == "enterprise", Organisation.status == "active")
            .order_by(Organisation.id)
        )
        .scalars()
        .all()
    )
    areas = [a.key for a in pack.cloud_adoption.business_areas]
    years = pack.period.years
    # Later years carry more adoptions, as the plan's 500 / 1,500 / 3,000 do.
    weights = [1, 3, 6][: len(years)] + [6] * max(0, len(years) - 3)
    adoptions: list[dict[str, Any]] = []
    diagnoses: list[dict[str, Any]] = []
    for org_id in orgs:
        # One generator per enterprise, so a second run (which skips enterprises with records) draws the same.
        rng = random.Random(f"chaoyun-programme-{org_id}")
        r = rng.random()
        r2 = rng.random()
        if org_id in skip:
            continue
        if r < adoption_share and org_id not in have_a:
            y = rng.choices(years, weights=weights)[0]
            live = date(y, rng.randint(1, 12), rng.randint(1, 28))
            chosen = rng.sample(areas, rng.randint(1, 4))
            # Checked on site by the officer; the platform held no record of the firm then.
            stars = star_rating(pack.cloud_adoption, len(chosen), OrgEvidence())
            at = datetime(y, live.month, live.day, 10, tzinfo=UTC)
            adoptions.append(
                {
                    "org_id": org_id,
                    "status": "counted",
                    "areas": {k: "officer" for k in chosen},
                    "provider_name": rng.choice(["汕头电信政企云", "粤东工业互联网平台", "潮汕智造云"]),
                    "provider_org_id": None,
                    "contract_no": f"HT{y}{org_id:06d}",
                    "contract_date": live,
                    "contract_amount": Decimal(rng.randint(5, 200) * 1000),
                    "live_since": live,
                    "note": "",
                    "evidence": OrgEvidence().as_dict(),
                    "stars": stars,
                    "counted_year": y,
                    "decision_reason": "",
                    "declared_at": at,
                    "verified_at": at,
                    "counted_at": at,
                }
            )
        if r2 < diagnosis_share and org_id not in have_d:
            strength = rng.random() * 0.6
            n = 2 if rng.random() < 0.5 else 1
            y0 = rng.choice(years[:-1] or years)
            for k in range(n):
                y = min(years[-1], y0 + k)
                ans = plausible_answers(rng, min(1.0, strength + 0.3 * k))
                res = score(q, ans)
                at = datetime(y, 6 + k * 3 if k < 2 else 12, 15, tzinfo=UTC)
                diagnoses.append(
                    {
                        "org_id": org_id,
                        "questionnaire": q.key,
                        "status": "completed",
                        "answers": ans,
                        "evidenced": {},
                        "score": res.total,
                        "level": res.level,
                        "scene_levels": res.scenes,
                        "group_scores": {g: str(v) for g, v in res.groups.items()},
                        "expert_summary": "",
                        "year": y,
                        "created_at": at,
                        "submitted_at": at,
                        "completed_at": at,
                    }
                )
    if adoptions:
        db.execute(insert(CloudAdoption), adoptions)
    if diagnoses:
        db.execute(insert(Diagnosis), diagnoses)
    db.commit()
    return {"adoptions": len(adoptions), "diagnoses": len(diagnoses)}


# Of each district's simulated factories, the last ones are left declared: the officer's to-do on first login.
LEFT_FOR_OFFICER = 2


def adoptions_from_use(db: Session, org_ids: list[int]) -> dict[str, int]:
    """Current-year declarations of the simulated factories (``org_ids``), corroborated by what their
    devices and people really did on the platform: each declares the areas the platform can evidence; where
    the district has an officer account, the officer verifies it with the real rules (stars computed from
    the evidence), except the last few, left for the officer to do. Idempotent per enterprise and year."""
    from chaoyun.identity.permissions import Actor
    from chaoyun.programme import cloud_adoption as ca
    from chaoyun.programme import evidence

    year = date.today().year
    have = set(
        db.execute(
            select(CloudAdoption.org_id).where(
                CloudAdoption.org_id.in_(org_ids), CloudAdoption.live_since >= date(year, 1, 1)
            )
        ).scalars()
    )
    officers: dict[str, Actor] = {}
    for m, u in db.execute(
        select(Membership, User).join(User, User.id == Membership.user_id).where(Membership.role == "district_officer")
    ).all():
        if m.district and m.district not in officers and u.is_active:
            officers[m.district] = Actor(user=u, membership=m)
    orgs = db.execute(select(Organisation).where(Organisation.id.in_(org_ids)).order_by(Organisation.id)).scalars()
    by_district: dict[str, list[CloudAdoption]] = {}
    created = verified = 0
    for org in orgs:
        if org.id in have:
            continue
        ev = evidence.for_org(db, org.id)
        if ev.devices_reporting == 0:
            continue  # nothing the platform can corroborate yet
        chosen = ["equipment", "production_control"] + (["energy"] if evidence._reports_energy(ev) else [])
        a = CloudAdoption(
            org_id=org.id,
            status=ca.DECLARED,
            areas={k: None for k in chosen},
            provider_name="潮汕智造云科技有限公司",
            contract_no=f"HT{year}{org.id:06d}",
            live_since=date(year, 1, 1),
            note="",
            declared_at=datetime.now(UTC),
        )
        db.add(a)
        db.flush()
        created += 1
        by_district.setdefault(org.district or "", []).append(a)
    db.commit()
    for district, rows in by_district.items():
        officer = officers.get(district)
        if officer is None:
            continue
        for a in rows[: max(0, len(rows) - LEFT_FOR_OFFICER)]:
            ca.verify(db, officer, a.id, [], "现场核查：设备数据与应用使用记录一致")
            verified += 1
    return {"declared": created, "verified": verified}
