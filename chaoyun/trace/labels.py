"""Display names of the trace context's codes."""

from chaoyun.i18n import N_

OBJECT_CLASSES = {
    "model": N_("Product model"),
    "batch": N_("Production batch"),
    "item": N_("Single item"),
    "device": N_("Device"),
    "material": N_("Material lot"),
}
DTYPES = {
    "text": N_("Text"),
    "number": N_("Number"),
    "date": N_("Date"),
    "enum": N_("Choice"),
    "link": N_("Link to an identifier"),
}
INSPECTION = {"pass": N_("Passed"), "fail": N_("Failed"), "pending": N_("Awaiting inspection")}
NODE_KINDS = {
    "lot": N_("Production lot"),
    "mat": N_("Material lot"),
    "ship": N_("Shipment"),
    "dlv": N_("Delivery"),
}
STATUSES = {"active": N_("Active"), "withdrawn": N_("Withdrawn")}
