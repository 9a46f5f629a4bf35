"""Reference data of the resource pool: categories, SaaS domains, statuses, the whitelist checklist.

Labels are English msgids (translated in this context's catalog); codes are what the tables store.
"""

from __future__ import annotations

from enum import StrEnum

from chaoyun.i18n import N_
from chaoyun.security import engine as checklist_engine

# Plan item 13: key fields, then professional services.
CATEGORIES: dict[str, str] = {
    "iiot": N_("Industrial IoT"),
    "edge": N_("Edge computing"),
    "big_data": N_("Big data"),
    "ai": N_("Artificial intelligence"),
    "solutions": N_("System solutions"),
    "blockchain": N_("Blockchain"),
    "next_gen_network": N_("Next-generation networks"),
    "security": N_("Information security"),
    "consulting": N_("Technical consulting"),
    "ip": N_("Intellectual property"),
    "finance": N_("Investment and financing"),
    "training": N_("Talent training"),
}

# Plan items 5 and 7: the SaaS domains the city buys for SMEs.
SAAS_DOMAINS: dict[str, str] = {
    "rd_design": N_("R&D design"),
    "production_control": N_("Production control"),
    "marketing": N_("Marketing"),
    "process_improvement": N_("Process improvement"),
    "energy": N_("Energy optimisation"),
    "customer_mgmt": N_("Customer management"),
    "supply_chain": N_("Supply-chain collaboration"),
    "office": N_("Office and administration"),
}

PROVIDER_TYPES: dict[str, str] = {"platform": N_("Platform provider"), "service": N_("Solution/service provider")}
PLATFORM_SCOPES: dict[str, str] = {
    "cross_industry": N_("Cross-industry platform"),
    "industry_specific": N_("Industry-specific platform"),
}
OFFERING_KINDS: dict[str, str] = {"product": N_("Product"), "solution": N_("Solution"), "app": N_("Industrial app")}
DEPLOYMENTS: dict[str, str] = {"public_cloud": N_("Public cloud"), "private": N_("Private"), "edge": N_("Edge")}
PRICE_MODELS: dict[str, str] = {
    "subscription": N_("Subscription"),
    "per_use": N_("Pay per use"),
    "one_off": N_("One-off fee"),
    "quote": N_("On quotation"),
}
# Guangdong voucher policy: eligible cost categories (automation equipment and non-cloud software are not).
COST_CATEGORIES: dict[str, str] = {
    "cloud_resources": N_("Public cloud resources"),
    "platform_fee": N_("Platform service fee"),
    "app_fee": N_("Application service fee"),
    "network_fee": N_("Network communication fee"),
    "implementation": N_("Implementation fee"),
    "device_access": N_("Device access fee"),
    "network_modification": N_("Network modification fee"),
}


class AdmissionStatus(StrEnum):
    APPLIED = "applied"
    ADMITTED = "admitted"
    REJECTED = "rejected"
    ON_WATCH = "on_watch"
    REMOVED = "removed"


ADMISSION_LABELS: dict[str, str] = {
    "applied": N_("Applied"),
    "admitted": N_("Admitted"),
    "rejected": N_("Rejected"),
    "on_watch": N_("On watch"),
    "removed": N_("Removed"),
}
# In the pool (and eligible for vouchers when whitelisted): admitted providers and those on watch.
IN_POOL = {AdmissionStatus.ADMITTED.value, AdmissionStatus.ON_WATCH.value}

RECOMMENDATION_LABELS: dict[str, str] = {
    "selected": N_("Selected"),
    "submitted": N_("Submitted to the province"),
    "accepted": N_("Accepted by the province"),
    "declined": N_("Declined by the province"),
}
CONTRACT_LABELS: dict[str, str] = {"declared": N_("Declared"), "verified": N_("Verified"), "disputed": N_("Disputed")}
ASSESSMENT_LABELS: dict[str, str] = {"open": N_("Open"), "passed": N_("Passed"), "failed": N_("Failed")}

# Upload limits for attachments (application documents, assessment evidence).
ALLOWED_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# Leading bytes of each type, so a renamed executable is refused too.
MAGIC: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".xlsx": (b"PK\x03\x04",),
    ".docx": (b"PK\x03\x04",),
}


# The whitelist checklist (plan item 18) is data of the security context's checklist engine
# (chaoyun/security/checklists/provider_whitelist.yaml): codes, titles, weights (summing to 100) and the source
# clause of every item. The assessment here scores points per item on that engine.
WHITELIST_CHECKLIST = "provider_whitelist"
SECURITY_DOMAINS: dict[str, str] = checklist_engine.DOMAINS
CHECKLIST: tuple[checklist_engine.Item, ...] = checklist_engine.load(WHITELIST_CHECKLIST).items
CHECKLIST_BY_CODE: dict[str, checklist_engine.Item] = checklist_engine.load(WHITELIST_CHECKLIST).by_code
assert sum(i.weight for i in CHECKLIST) == 100
