"""Admission, review, whitelist, quotas and the interface functions, with the bad input the issue names."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.errors import Conflict, Invalid
from chaoyun.identity.models import Organisation, User
from chaoyun.marketplace import files, pool, service, whitelist
from chaoyun.marketplace.demo import EXPIRED, OPEN, PENDING, SUSPENDED, _providers
from chaoyun.marketplace.models import Admission, Attachment, Offering, QuotaAdjustment
from chaoyun.marketplace.reference import CHECKLIST
from chaoyun.marketplace.schemas import ApplicationIn
from tests.marketplace.conftest import PDF, actor_of, application


def _count(db: Session, model: Any) -> int:
    db.expire_all()
    return int(db.execute(select(func.count()).select_from(model)).scalar_one())


def _new_provider(db: Session, **over: Any) -> Admission:
    adm, _ = pool.apply(db, ApplicationIn.model_validate(application(**over)), [files.Upload("licence.pdf", PDF)])
    return adm


def _whitelisted(db: Session, city: Any, **over: Any) -> Admission:
    adm = _new_provider(db, **over)
    pool.decide(db, city, adm.id, True)
    a = whitelist.open_assessment(db, city, adm.org_id)
    whitelist.score(db, city, a.id, {i.code: str(i.weight) for i in CHECKLIST}, {}, conclude=True)
    return adm


# ---------------------------------------------------------------- interface functions on demo data


def test_demo_eligibility_and_counts(db: Session) -> None:
    provs = _providers(db)
    assert service.voucher_eligibility(db, provs[0].id) == (True, None)
    ok, why = service.voucher_eligibility(db, provs[SUSPENDED].id)
    assert not ok and why == "The provider's whitelisting is suspended after a failed spot check."
    ok, why = service.voucher_eligibility(db, provs[EXPIRED].id)
    assert not ok and "expired" in (why or "")
    assert service.voucher_eligibility(db, provs[OPEN].id)[0] is False
    assert service.voucher_eligibility(db, provs[PENDING].id)[0] is False
    enterprise = db.execute(select(Organisation).where(Organisation.kind == "enterprise")).scalars().first()
    assert enterprise is not None
    assert service.voucher_eligibility(db, enterprise.id) == (False, "This organisation is not a provider.")
    counts = service.pool_counts(db)
    assert counts.admitted_platforms >= 5 and counts.leading_platforms >= 3
    assert counts.admitted_service_providers >= 10
    assert counts.recommended_to_province >= 6
    # By year: admissions decided by the end of the year; recommendations up to that year.
    assert service.pool_counts(db, 2017).admitted_platforms == 0
    assert service.pool_counts(db, 2018).leading_platforms == 3
    assert service.pool_counts(db, 2019).recommended_to_province == 4
    assert service.provider_quota(db, provs[0].id, 2019) == Decimal("8000000.00")  # platform
    assert service.provider_quota(db, provs[PENDING].id, 2019) == Decimal("0.00")  # not in the pool


def test_offerings_for_categories_accepts_codes_and_chinese_labels(db: Session) -> None:
    by_code = service.offerings_for_categories(db, ["energy"], limit=10)
    by_label = service.offerings_for_categories(db, ["能耗管理"], limit=10)
    assert by_code and [o.id for o in by_code] == [o.id for o in by_label]
    assert all(o.url == f"/market/offerings/{o.id}" for o in by_code)
    assert service.offerings_for_categories(db, ["no-such-thing"]) == []
    assert len(service.offerings_for_categories(db, ["iiot", "ai", "solutions"], limit=2)) == 2


def test_demo_seed_is_idempotent(db: Session) -> None:
    from chaoyun.marketplace import demo

    before = (_count(db, Admission), _count(db, Offering))
    assert demo.seed(db) == {"admissions": 0, "offerings": 0, "assessments": 0, "prices": 0}
    assert (_count(db, Admission), _count(db, Offering)) == before


# ---------------------------------------------------------------- admission with bad input


def test_apply_creates_pending_provider_and_admin(db: Session) -> None:
    adm = _new_provider(db)
    org = db.get(Organisation, adm.org_id)
    assert org is not None and org.kind == "provider" and org.status == "pending"
    assert org.provider is not None and org.provider.service_categories == ["solutions", "iiot"]
    att = db.execute(select(Attachment).where(Attachment.object_id == adm.id)).scalar_one()
    assert (files.storage_dir() / att.stored_name).read_bytes() == PDF


@pytest.mark.parametrize(
    ("over", "field", "exc"),
    [
        ({"credit_code": "91440500ABCDEFGH12"}, "credit_code", Invalid),
        ({"provider_type": "reseller"}, "provider_type", Invalid),
        ({"provider_type": "platform", "platform_scope": ""}, "platform_scope", Invalid),
        ({"categories": []}, "categories", Invalid),
        ({"categories": ["crypto"]}, "categories", Invalid),
    ],
)
def test_apply_rejects_bad_fields_and_saves_nothing(db: Session, over: dict[str, Any], field: str, exc: type) -> None:
    before = (_count(db, Organisation), _count(db, User), _count(db, Admission))
    with pytest.raises(exc) as err:
        pool.apply(db, ApplicationIn.model_validate(application(**over)), [])
    assert err.value.field == field
    m = err.value.messages()
    assert m["zh"] and m["en"] and m["zh"] != m["en"]
    assert (_count(db, Organisation), _count(db, User), _count(db, Admission)) == before


def test_duplicate_provider_is_refused(db: Session) -> None:
    adm = _new_provider(db)
    org = db.get(Organisation, adm.org_id)
    assert org is not None
    before = _count(db, Organisation)
    with pytest.raises(Conflict) as err:
        pool.apply(db, ApplicationIn.model_validate(application(credit_code=org.credit_code)), [])
    assert err.value.field == "credit_code"
    with pytest.raises(Conflict):
        pool.apply(db, ApplicationIn.model_validate(application(name=org.name)), [])
    assert _count(db, Organisation) == before


@pytest.mark.parametrize(
    ("upload", "needle"),
    [
        (files.Upload("big.pdf", b"%PDF" + b"0" * (5 * 1024 * 1024)), "larger than"),
        (files.Upload("tool.exe", b"MZ\x90\x00"), "not an accepted type"),
        (files.Upload("fake.pdf", b"MZ\x90\x00 not a pdf"), "does not match"),
        (files.Upload("empty.png", b""), "empty"),
    ],
)
def test_bad_attachments_are_refused_and_nothing_is_saved(db: Session, upload: files.Upload, needle: str) -> None:
    before = (_count(db, Organisation), _count(db, Admission), _count(db, Attachment))
    on_disk = set(files.storage_dir().iterdir())
    with pytest.raises(Invalid) as err:
        pool.apply(db, ApplicationIn.model_validate(application()), [files.Upload("ok.pdf", PDF), upload])
    assert needle in str(err.value)
    assert err.value.messages()["zh"] != err.value.messages()["en"]
    assert (_count(db, Organisation), _count(db, Admission), _count(db, Attachment)) == before
    assert set(files.storage_dir().iterdir()) == on_disk


def test_review_decide_and_reject_reasons(db: Session, city: Any) -> None:
    expert = actor_of(db, "expert")
    adm = _new_provider(db)
    pool.add_opinion(db, expert, adm.id, True, "资质齐全")
    with pytest.raises(Invalid):
        pool.decide(db, city, adm.id, False, "  ")
    pool.decide(db, city, adm.id, False, "两化融合评估报告缺失")
    db.refresh(adm)
    assert adm.status == "rejected" and adm.reason == "两化融合评估报告缺失"
    org = db.get(Organisation, adm.org_id)
    assert org is not None and org.status == "rejected"
    with pytest.raises(Conflict):
        pool.decide(db, city, adm.id, True)
    assert service.voucher_eligibility(db, adm.org_id) == (
        False,
        "The provider's application to the resource pool was rejected.",
    )
    from chaoyun.identity.models import AuditEntry

    actions = list(
        db.execute(
            select(AuditEntry.action).where(
                AuditEntry.object_type == "market_admission", AuditEntry.object_id == str(adm.id)
            )
        ).scalars()
    )
    assert actions == ["pool_apply", "pool_opinion", "pool_reject"]


# ---------------------------------------------------------------- whitelist, spot checks, expiry, quota


def test_whitelist_lifecycle_and_suspension_blocks_at_once(db: Session, city: Any) -> None:
    adm = _new_provider(db)
    assert service.voucher_eligibility(db, adm.org_id)[0] is False
    pool.decide(db, city, adm.id, True)
    assert service.voucher_eligibility(db, adm.org_id)[1] == (
        "The provider has no security assessment, so it is not whitelisted."
    )
    a = whitelist.open_assessment(db, city, adm.org_id)
    with pytest.raises(Conflict):
        whitelist.open_assessment(db, city, adm.org_id)
    with pytest.raises(Invalid) as err:
        whitelist.score(db, city, a.id, {"DEV-1": "99"}, {}, conclude=False)
    assert err.value.field == "score_DEV-1"
    with pytest.raises(Invalid):
        whitelist.score(db, city, a.id, {"DEV-1": "8"}, {}, conclude=True)  # other items unscored
    whitelist.score(
        db, city, a.id, {i.code: str(i.weight - 1) for i in CHECKLIST}, {"NET-1": "边界已隔离"}, conclude=True
    )
    db.refresh(a)
    assert a.status == "passed" and a.total == 100 - len(CHECKLIST)
    assert a.expires_on is not None and a.expires_on > date.today()
    assert service.voucher_eligibility(db, adm.org_id) == (True, None)
    quota_before = service.provider_quota(db, adm.org_id, date.today().year)

    with pytest.raises(Invalid):
        whitelist.spot_check(db, city, a.id, False, "")
    whitelist.spot_check(db, city, a.id, False, "未保留登录日志")
    ok, why = service.voucher_eligibility(db, adm.org_id)
    assert not ok and "suspended" in (why or "")
    assert service.provider_quota(db, adm.org_id, date.today().year) == quota_before * Decimal("0.8")
    adj = db.execute(select(QuotaAdjustment).where(QuotaAdjustment.org_id == adm.org_id)).scalar_one()
    assert adj.cause == "spot_check"
    whitelist.reinstate(db, city, a.id, "整改完成并复查")
    assert service.voucher_eligibility(db, adm.org_id) == (True, None)


def test_failed_assessment_and_expiry(db: Session, city: Any) -> None:
    adm = _new_provider(db)
    pool.decide(db, city, adm.id, True)
    a = whitelist.open_assessment(db, city, adm.org_id)
    whitelist.score(db, city, a.id, {i.code: "1" for i in CHECKLIST}, {}, conclude=True)
    assert service.voucher_eligibility(db, adm.org_id) == (False, "The provider failed its security assessment.")
    b = whitelist.open_assessment(db, city, adm.org_id)
    whitelist.score(db, city, b.id, {i.code: str(i.weight) for i in CHECKLIST}, {}, conclude=True)
    assert service.voucher_eligibility(db, adm.org_id)[0] is True
    b.expires_on = date.today() - timedelta(days=1)
    db.commit()
    assert service.voucher_eligibility(db, adm.org_id) == (False, "The provider's whitelist assessment has expired.")


def test_quota_is_configurable_and_adjustable(db: Session, city: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    adm = _whitelisted(db, city, provider_type="platform", platform_scope="industry_specific")
    assert service.provider_quota(db, adm.org_id, 2019) == Decimal("8000000.00")
    monkeypatch.setenv("CHAOYUN_MARKET_QUOTA_PLATFORM", "6000000")
    assert service.provider_quota(db, adm.org_id, 2019) == Decimal("6000000.00")
    with pytest.raises(Invalid):
        pool.adjust_quota(db, city, adm.id, 2019, Decimal("100000"), "")
    with pytest.raises(Invalid):  # a quota never goes negative: the adjustment is refused, not clipped
        pool.adjust_quota(db, city, adm.id, 2019, Decimal("-7000000"), "省额度调整")
    pool.adjust_quota(db, city, adm.id, 2019, Decimal("-6000000"), "省额度调整")
    assert service.provider_quota(db, adm.org_id, 2019) == Decimal("0.00")
    assert service.used_quota(db, adm.org_id, 2019) >= 0


def test_re_evaluation_suggests_from_quality(db: Session, city: Any) -> None:
    adm = _whitelisted(db, city)
    a = whitelist.assessments_of(db, adm.org_id)[0]
    whitelist.spot_check(db, city, a.id, False, "弱口令")
    q = pool.quality(db, adm.org_id)
    assert q.failed_spot_checks == 1
    suggested, reasons = pool.suggest_outcome(q, whitelisted=False)
    assert suggested == "on_watch" and reasons
    with pytest.raises(Invalid):
        pool.evaluate(db, city, adm.id, date.today().year, "removed", "")
    ev = pool.evaluate(db, city, adm.id, date.today().year)
    assert ev.outcome == "on_watch"
    with pytest.raises(Conflict):
        pool.evaluate(db, city, adm.id, date.today().year)


def test_provincial_export(db: Session, city: Any) -> None:
    from openpyxl import load_workbook

    adm = _whitelisted(db, city)
    pending = _new_provider(db)
    with pytest.raises(Invalid):
        pool.recommend(db, city, [pending.org_id], 2031)
    (rec,) = pool.recommend(db, city, [adm.org_id], 2031)
    with pytest.raises(Conflict):
        pool.set_recommendation(db, city, rec.id, "accepted")  # outcome before submission
    pool.set_recommendation(db, city, rec.id, "submitted")
    wb = load_workbook(BytesIO(pool.export_provincial(db, 2031)))
    ws = wb.active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("序号", "统一社会信用代码", "企业名称")
    assert len(rows[0]) == len(pool.PROVINCIAL_COLUMNS)
    org = db.get(Organisation, adm.org_id)
    assert org is not None
    assert rows[2][1] == org.credit_code and rows[2][15] == "已列入白名单" and rows[2][18] == "已报送"
    # recommended_to_province is cumulative (the plan's "by 2020, more than 20"); recommended_in_year is the year's
    assert service.pool_counts(db, 2031).recommended_in_year == 1


def test_rejected_provider_can_apply_again_in_app(db: Session, city: Any) -> None:
    from chaoyun.identity.permissions import Actor
    from chaoyun.marketplace.schemas import ProviderFields

    adm, user = pool.apply(db, ApplicationIn.model_validate(application()), [])
    pool.decide(db, city, adm.id, False, "材料不全")
    db.refresh(user)
    me = Actor(user=user, membership=user.memberships[0])
    fields = ProviderFields(provider_type="service", registered_place="汕头市龙湖区", categories=["consulting"])
    again = pool.apply_existing(db, me, fields, [files.Upload("report.pdf", PDF)])
    assert again.id == adm.id and again.status == "applied" and again.categories == ["consulting"]
    with pytest.raises(Conflict):
        pool.apply_existing(db, me, fields, [])
