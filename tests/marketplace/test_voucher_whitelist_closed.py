"""The voucher's provider check fails closed: an active provider organisation that the resource pool has
not admitted and whitelisted is never eligible (before, without the pool module, any active provider was)."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation, ProviderProfile
from chaoyun.programme.workflows import vouchers
from tests import factories


def test_an_unadmitted_active_provider_is_not_eligible(db: Session) -> None:
    org = Organisation(
        kind="provider",
        name=f"未入池测试服务商{secrets.token_hex(2)}",
        credit_code=factories.credit_code(),
        status="active",
    )
    org.provider = ProviderProfile(provider_type="service", service_categories=["solutions"])
    db.add(org)
    db.commit()
    ok, reason = vouchers.provider_eligibility(db, org)
    assert ok is False and reason == "The provider has not applied to the resource pool."
    assert org not in vouchers.eligible_providers(db)
    assert vouchers.marketplace_available() is True
