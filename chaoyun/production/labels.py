"""Display names of the production context's codes (templates translate them through these maps)."""

from chaoyun.i18n import N_

KINDS = {"product": N_("Product"), "material": N_("Material")}
WO_STATES = {
    "planned": N_("Planned"),
    "released": N_("Released"),
    "running": N_("In production"),
    "done": N_("Completed"),
    "cancelled": N_("Cancelled"),
}
OP_STATES = {
    "pending": N_("Not started"),
    "running": N_("Running"),
    "paused": N_("Paused"),
    "done": N_("Finished"),
    "finished": N_("Finished"),
}
ACTIONS = {
    "released": N_("Release"),
    "running": N_("Start production"),
    "done": N_("Complete"),
    "cancelled": N_("Cancel work order"),
}
SOURCES = {"counters": N_("Machine counters"), "operator": N_("Entered by operator")}
IMPORT_KINDS = {"items": N_("Items"), "routings": N_("Routings"), "work_orders": N_("Work orders")}
