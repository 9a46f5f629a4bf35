"""Reference data of the resource pool: categories, SaaS domains, statuses, the whitelist checklist.

Labels are English msgids (translated in this context's catalog); codes are what the tables store.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chaoyun.i18n import N_

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


@dataclass(frozen=True)
class CheckItem:
    code: str
    domain: str
    title: str  # English msgid
    source: str  # the clause the item is traced to (titles only for IEC 62443)
    weight: int  # maximum points


SECURITY_DOMAINS: dict[str, str] = {
    "device": N_("Device security"),
    "control": N_("Control security"),
    "network": N_("Network security"),
    "platform": N_("Platform security"),
    "data": N_("Data security"),
}

# The whitelist checklist (plan item 18). Weights sum to 100; each item names its source clause:
# GB/T 22239-2019 level-2 (7.5.x) / level-3 (8.5.x) industrial-control extension, IEC 62443-3-3
# foundational requirements (titles only), and the 2024 SME digital-level security indicators.
CHECKLIST: tuple[CheckItem, ...] = (
    CheckItem(
        "DEV-1",
        "device",
        N_("Field devices and gateways authenticate, control access and keep audit records"),
        "GB/T 22239-2019 7.5.4 / 8.5.4 安全计算环境（工业控制扩展）; IEC 62443 FR1 Identification and authentication",
        8,
    ),
    CheckItem(
        "DEV-2",
        "device",
        N_("USB, serial and unused ports are closed or monitored"),
        "GB/T 22239-2019 7.5.4 安全计算环境（工业控制扩展）; IEC 62443 FR2 Use control",
        6,
    ),
    CheckItem(
        "DEV-3",
        "device",
        N_("Patches and firmware are applied only after testing; firmware integrity is checked"),
        "GB/T 22239-2019 7.5.4 / 8.5.4 安全计算环境（工业控制扩展）; IEC 62443 FR3 System integrity",
        6,
    ),
    CheckItem(
        "CTL-1",
        "control",
        N_("The control zone is separated from other enterprise systems (one-way at level 3)"),
        "GB/T 22239-2019 7.5.2 / 8.5.2 安全通信网络（工业控制扩展）; IEC 62443 FR5 Restricted data flow",
        8,
    ),
    CheckItem(
        "CTL-2",
        "control",
        N_("Security domains inside the control network, with zones and conduits documented"),
        "GB/T 22239-2019 7.5.2 安全通信网络（工业控制扩展）; IEC 62443 FR5 Restricted data flow",
        6,
    ),
    CheckItem(
        "CTL-3",
        "control",
        N_("Control equipment is security-tested before purchase; outsourcing contracts carry security clauses"),
        "GB/T 22239-2019 7.5.5 安全建设管理（工业控制扩展）",
        6,
    ),
    CheckItem(
        "NET-1",
        "network",
        N_("Boundary access control: no e-mail, web, telnet, rlogin or FTP across the control boundary"),
        "GB/T 22239-2019 7.5.3 安全区域边界（工业控制扩展）; SME 2024 网络安全 (boundary access control)",
        8,
    ),
    CheckItem(
        "NET-2",
        "network",
        N_("Control traffic over wide-area networks is encrypted and authenticated"),
        "GB/T 22239-2019 7.5.2 安全通信网络（工业控制扩展）; IEC 62443 FR4 Data confidentiality",
        7,
    ),
    CheckItem(
        "NET-3",
        "network",
        N_("Dial-up and wireless use is controlled; boundary failures raise alarms"),
        "GB/T 22239-2019 7.5.3 安全区域边界（工业控制扩展）; IEC 62443 FR6 Timely response to events",
        5,
    ),
    CheckItem(
        "PLT-1",
        "platform",
        N_("Platform accounts use strong authentication and least privilege; login logs are kept for the province"),
        "IEC 62443 FR1 Identification and authentication; FR2 Use control; 粤 voucher real-use evidence",
        8,
    ),
    CheckItem(
        "PLT-2",
        "platform",
        N_("Intrusion and malware detection, monitored and answered (incident response plan)"),
        "SME 2024 网络安全 (IDS, intrusion/malware detection); IEC 62443 FR6 Timely response to events",
        7,
    ),
    CheckItem(
        "PLT-3",
        "platform",
        N_("Capacity, backup and recovery keep the service available"),
        "IEC 62443 FR7 Resource availability",
        5,
    ),
    CheckItem(
        "DAT-1",
        "data",
        N_("Data security policy and a data ledger with periodic checks"),
        "SME 2024 数据安全 (policy; data ledger)",
        6,
    ),
    CheckItem(
        "DAT-2",
        "data",
        N_("Enterprise data is encrypted, backed up, masked and classified"),
        "SME 2024 数据安全 (encryption/backup/masking/classification); IEC 62443 FR4 Data confidentiality",
        8,
    ),
    CheckItem(
        "DAT-3",
        "data",
        N_("A security and data risk assessment at least once a year"),
        "SME 2024 网络安全/数据安全 (risk assessment); GB/T 36466-2018",
        6,
    ),
)
CHECKLIST_BY_CODE: dict[str, CheckItem] = {i.code: i for i in CHECKLIST}
assert sum(i.weight for i in CHECKLIST) == 100
