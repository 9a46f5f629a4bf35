"""Display labels of the supply-chain codes (translated by value in pages, exports and messages)."""

from __future__ import annotations

from chaoyun.i18n import N_

PARTNER_STATES = {
    "invited": N_("Invitation pending"),
    "active": N_("Active partner"),
    "declined": N_("Invitation declined"),
    "ended": N_("Partnership ended"),
}
ORDER_STATES = {"open": N_("Order open"), "closed": N_("Order closed"), "cancelled": N_("Order cancelled")}
LINE_STATES = {
    "open": N_("Awaiting supplier"),
    "proposed": N_("Change proposed"),
    "confirmed": N_("Confirmed by supplier"),
    "declined": N_("Declined by supplier"),
    "cancelled": N_("Line cancelled"),
    "delivered": N_("Delivered"),
}
SHIPMENT_STATES = {"sent": N_("In transit"), "received": N_("Goods received"), "cancelled": N_("Shipment cancelled")}
INSPECTION = {"pass": N_("Inspection passed"), "fail": N_("Inspection failed")}
RISKS = {
    "": N_("Not started"),
    "on_track": N_("On track"),
    "at_risk": N_("Late risk"),
    "late": N_("Forecast late"),
    "overdue": N_("Overdue"),
}
SOURCES = {
    "manual": N_("Entered by hand"),
    "import": N_("Imported file"),
    "api": N_("Through the API"),
    "capacity": N_("Capacity booking"),
    "demo": N_("Demo data"),
}
