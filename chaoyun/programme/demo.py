"""Demo records for the programme: counted cloud adoptions and completed diagnoses in 2018–2020.

Deterministic (seeded RNG over enterprises ordered by id) and idempotent (skips enterprises that
already have records). The demo users' own enterprises are left without records so they can try the flows.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.programme.models import CloudAdoption, Diagnosis
from chaoyun.programme.pack import get_pack
from chaoyun.programme.questionnaire import get_questionnaire, score

DEMO_USERS = ("factory", "factory2", "operator")


def _answers(rng: random.Random, strength: float) -> dict[str, Any]:
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
            stars = rng.choices([3, 4, 5], weights=[6, 3, 1])[0]
            at = datetime(y, live.month, live.day, 10, tzinfo=UTC)
            adoptions.append(
                {
                    "org_id": org_id,
                    "status": "counted",
                    "areas": {k: rng.choice(["devices", "apps", "officer"]) for k in chosen},
                    "provider_name": rng.choice(["汕头电信政企云", "粤东工业互联网平台", "潮汕智造云"]),
                    "provider_org_id": None,
                    "contract_no": f"HT{y}{org_id:06d}",
                    "contract_date": live,
                    "contract_amount": Decimal(rng.randint(5, 200) * 1000),
                    "live_since": live,
                    "note": "",
                    "evidence": {},
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
                ans = _answers(rng, min(1.0, strength + 0.3 * k))
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
