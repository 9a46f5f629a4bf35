"""What the audit log shows for its action codes and object types (the codes stay as recorded).

Codes come from every context: plain verbs (``create``, ``pool_admit``) and ``<object>.<verb>`` pairs
(``voucher.city_pass``, ``device.certificate_issue``). A pair is shown as its object and verb, so a new
workflow action needs only its verb here. tests/test_i18n.py finds every code the code base records and
fails when one would be shown raw.
"""

from __future__ import annotations

from chaoyun.i18n import N_, gettext

VERBS: dict[str, str] = {
    "acknowledge": N_("Acknowledge"),
    "activate": N_("Activate"),
    "adjust": N_("Adjust"),
    "allocate": N_("Allocate seat"),
    "answer": N_("Answer the questionnaire"),
    "apply": N_("Apply"),
    "approve": N_("Approve"),
    "assessment_conclude": N_("Conclude security assessment"),
    "assessment_open": N_("Open security assessment"),
    "assessment_score": N_("Score security assessment"),
    "accept": N_("Accept for review"),
    "assign": N_("Assign"),
    "book": N_("Book time"),
    "certificate_issue": N_("Issue certificate"),
    "certificate_revoke": N_("Revoke certificate"),
    "city_pass": N_("Pass city review and publish notice"),
    "city_reject": N_("Reject (city)"),
    "clear": N_("Clear"),
    "command": N_("Send command"),
    "command_result": N_("Command result"),
    "complain": N_("Complain"),
    "complaint_resolve": N_("Resolve complaint"),
    "complete": N_("Complete"),
    "conclude_notice": N_("Conclude public notice and approve"),
    "config": N_("Send configuration"),
    "confirm_contract": N_("Confirm the contract"),
    "contract_confirm": N_("Confirm the contract"),
    "contract_declare": N_("Declare contract"),
    "count": N_("Count towards targets"),
    "cancel": N_("Cancel"),
    "create": N_("Create"),
    "deactivate": N_("Deactivate"),
    "declare": N_("Declare"),
    "decline_contract": N_("Decline the contract"),
    "delete": N_("Delete"),
    "district_pass": N_("Pass district review"),
    "district_reject": N_("Reject (district)"),
    "enter": N_("Enter counts"),
    "evidence_upload": N_("Upload evidence"),
    "export": N_("Export"),
    "finish": N_("Finish"),
    "generate": N_("Generate report"),
    "import": N_("Import"),
    "invite": N_("Invite"),
    "label": N_("Give stop reason"),
    "login": N_("Sign in"),
    "login_failed": N_("Failed sign-in"),
    "measure": N_("Enter measurements"),
    "not_selected": N_("Not selected"),
    "password_change": N_("Change password"),
    "pause": N_("Pause"),
    "pay": N_("Record payment"),
    "pool_admit": N_("Admit to the pool"),
    "pool_apply": N_("Apply to the pool"),
    "pool_evaluate": N_("Annual evaluation"),
    "pool_leading": N_("Mark as leading provider"),
    "pool_opinion": N_("Give review opinion"),
    "pool_reject": N_("Refuse admission"),
    "quota_adjust": N_("Adjust quota"),
    "price_record": N_("Record price"),
    "province_select": N_("Provincial selection"),
    "province_status": N_("Provincial status"),
    "rank": N_("Rank"),
    "rate": N_("Rate"),
    "redeem": N_("Submit for redemption"),
    "register": N_("Register organisation"),
    "register_refused": N_("Registration not stored (username taken)"),
    "audit_rekey": N_("Audit chain keyed"),
    "reject": N_("Reject"),
    "release": N_("Release seat"),
    "resubmit": N_("Resubmit"),
    "resume": N_("Resume"),
    "return": N_("Return for revision"),
    "revoke": N_("Revoke"),
    "rotate": N_("Rotate credentials"),
    "routing": N_("Set routing"),
    "score": N_("Give scores"),
    "seed": N_("Load demo data"),
    "select": N_("Select and publish notice"),
    "spot_check": N_("Spot check"),
    "start": N_("Start"),
    "stock": N_("Change stock"),
    "submit": N_("Submit"),
    "token_use": N_("Use API token"),
    "transition": N_("Change status"),
    "unpin": N_("Remove pin"),
    "update": N_("Update"),
    "pin": N_("Pin"),
    "proposal_accept": N_("Accept the proposal"),
    "proposal_reject": N_("Reject the proposal"),
    "publish": N_("Publish"),
    "solve": N_("Solve a schedule"),
    "use_part": N_("Use spare part"),
    "verify": N_("Verify"),
    "whitelist_reinstate": N_("Reinstate on the whitelist"),
    "window": N_("Set maintenance window"),
    "window_clear": N_("Clear maintenance window"),
    "withdraw": N_("Withdraw"),
}

OBJECTS: dict[str, str] = {
    "adoption": N_("Cloud adoption"),
    "demo_call": N_("Demonstration call"),
    "demonstration": N_("Demonstration project"),
    "device": N_("Device"),
    "diagnosis": N_("Diagnosis"),
    "expert_link": N_("Expert link"),
    "gateway": N_("Gateway"),
    "market": N_("Marketplace"),
    "milestone": N_("Milestone"),
    "seat": N_("Shared service seat"),
    "shared_service": N_("Shared service"),
    "subsidy": N_("Subsidy"),
    "voucher": N_("Service voucher"),
    "voucher_batch": N_("Payment batch"),
    "voucher_round": N_("Voucher round"),
}


# What an entry is about (its object_type); the workflows' subjects come from OBJECTS above.
OBJECT_TYPES: dict[str, str] = {
    **OBJECTS,
    "alarm": N_("Alarm"),
    "alarm_rule": N_("Alarm rule"),
    "api_token": N_("API token"),
    "audit_log": N_("Audit log"),
    "cloud_adoption": N_("Cloud adoption"),
    "demo": N_("Demo data"),
    "demo_milestone": N_("Milestone"),
    "device_connection": N_("Device connection"),
    "device_profile": N_("Device profile"),
    "devices": N_("Devices"),
    "directory": N_("Enterprise directory"),
    "inspection_plan": N_("Inspection plan"),
    "invitation": N_("Invitation"),
    "lot": N_("Lot"),
    "maintenance_order": N_("Maintenance order"),
    "maintenance_plan": N_("Maintenance plan"),
    "maintenance_settings": N_("Maintenance settings"),
    "market_admission": N_("Pool admission"),
    "market_assessment": N_("Security assessment"),
    "market_complaint": N_("Complaint"),
    "market_contract": N_("Service contract"),
    "market_offering": N_("Service offering"),
    "market_quota": N_("Voucher quota"),
    "market_rating": N_("Rating"),
    "market_recommendation": N_("Recommendation"),
    "marketplace_demo": N_("Demo data"),
    "operation_report": N_("Operation report"),
    "organisation": N_("Organisation"),
    "planned_downtime": N_("Planned downtime"),
    "price_record": N_("Price record"),
    "production_count": N_("Production count"),
    "production_item": N_("Production item"),
    "production_items": N_("Items"),
    "production_routings": N_("Routings"),
    "production_work_orders": N_("Work orders"),
    "repair_proposal": N_("Repair proposal"),
    "schedule_plan": N_("Production schedule"),
    "programme_targets": N_("Programme targets"),
    "programme_workflows": N_("Demo data"),
    "report": N_("Production report"),
    "shift_calendar": N_("Shift calendar"),
    "spare_part": N_("Spare part"),
    "spc_alarm": N_("SPC alarm"),
    "stop": N_("Stop"),
    "tariff_assignment": N_("Tariff"),
    "telemetry_retention": N_("Data retention"),
    "user": N_("User"),
    "webhook": N_("Webhook"),
    "work_order": N_("Work order"),
    "capacity_offer": N_("Capacity offer"),
    "capacity_booking": N_("Capacity booking"),
    "payment_terms": N_("Payment terms"),
    "invoice": N_("Invoice"),
}


def object_label(object_type: str) -> str:
    """The kind of thing an entry is about, in the page's language; an unknown type as recorded."""
    return gettext(OBJECT_TYPES[object_type]) if object_type in OBJECT_TYPES else object_type


def has_label(code: str) -> bool:
    obj, dot, verb = code.partition(".")
    return code in VERBS or bool(dot and obj in OBJECTS and verb in VERBS)


def action_label(code: str) -> str:
    """The action in the page's language; an unknown code is shown as recorded."""
    if code in VERBS:
        return gettext(VERBS[code])
    obj, dot, verb = code.partition(".")
    if dot and obj in OBJECTS:
        return f"{gettext(OBJECTS[obj])} · {gettext(VERBS.get(verb, verb))}"
    return code
