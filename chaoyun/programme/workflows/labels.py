"""Display names of the cost categories, demonstration kinds and service areas (translated by value)."""

from __future__ import annotations

from chaoyun.i18n import N_

COST_CATEGORIES: dict[str, str] = {
    # Voucher categories (item 8 and the provincial policy).
    "cloud_resources": N_("Public cloud resources"),
    "platform_service_fee": N_("Industrial internet platform service fee"),
    "app_service_fee": N_("Application service fee"),
    "network_communication_fee": N_("Network communication fee"),
    "device_access": N_("Device access fee"),
    "network_modification": N_("Network modification fee"),
    "implementation": N_("Implementation fee"),
    "automation_equipment": N_("Automation equipment purchase"),
    "intelligent_equipment": N_("Intelligent equipment purchase"),
    "non_cloud_software": N_("Non-cloud software purchase"),
    # Innovation subsidy categories (item 9).
    "cloud_computing": N_("Cloud computing system"),
    "big_data": N_("Big data system"),
    "iot": N_("Internet of things system"),
    "network_upgrade": N_("Network upgrade"),
    "industrial_internet_app": N_("Industrial internet application"),
    "production_equipment": N_("Production equipment"),
    "buildings": N_("Buildings and land"),
    "other": N_("Other"),
}

DEMO_KINDS: dict[str, str] = {
    "innovation_project": N_("Innovation demonstration project"),
    "benchmark_project": N_("Benchmark demonstration project"),
    "base": N_("Industrial demonstration base"),
    "innovation_centre": N_("Innovation centre"),
    "leading_platform": N_("Leading industrial internet platform"),
}

SUBSIDY_KINDS: dict[str, str] = {
    "innovation": N_("Innovation subsidy"),
    "certification": N_("Certification reward"),
}


def category_label(key: str) -> str:
    return COST_CATEGORIES.get(key, key)
