"""Display names of enum values of the apps (templates translate them by value)."""

from chaoyun.i18n import N_

LABELS = (
    # stop reasons and default reasons
    N_("breakdown_mechanical"),
    N_("breakdown_electrical"),
    N_("mould_change"),
    N_("adjustment"),
    N_("material_shortage"),
    N_("waiting_operator"),
    N_("quality_check"),
    N_("other"),
    N_("unlabelled_idle"),
    N_("unlabelled_setup"),
    N_("unlabelled_breakdown"),
    N_("off"),
    N_("no_signal"),
    # machine states
    # loss tree
    N_("availability"),
    N_("performance"),
    N_("quality"),
    N_("breakdown"),
    N_("small_stops"),
    N_("reduced_speed"),
    N_("startup_rejects"),
    N_("production_rejects"),
    N_("no_signal_group"),  # hours without a state report: shown apart, not a loss
    # charts and limits
    N_("xbar_r"),
    N_("xbar_s"),
    N_("imr"),
    N_("p"),
    N_("np"),
    N_("c"),
    N_("u"),
    N_("fixed"),
    N_("recalc"),
    # tariff periods, loads, reports
    N_("utility"),
    N_("idle_machine"),
    N_("daily"),
    N_("weekly"),
    N_("monthly"),
    N_("acknowledged"),
    # workbook sheets
    N_("By machine"),
    N_("By line"),
    N_("By workshop"),
    N_("By day"),
    N_("By shift"),
    N_("Stops"),
    N_("Capability"),
)

PERIOD_NAMES = {
    "critical": N_("Critical peak"),
    "peak": N_("Peak"),
    "flat": N_("Flat"),
    "valley": N_("Valley"),
}
SHEET_NAMES = (N_("By machine"), N_("By line"), N_("By workshop"), N_("By day"), N_("By shift"))

TEST_NAMES = {
    1: N_("1 point more than 3σ from the centre line"),
    2: N_("9 points in a row on the same side of the centre line"),
    3: N_("6 points in a row all increasing or all decreasing"),
    4: N_("14 points in a row alternating up and down"),
    5: N_("2 out of 3 points more than 2σ from the centre line (same side)"),
    6: N_("4 out of 5 points more than 1σ from the centre line (same side)"),
    7: N_("15 points in a row within 1σ of the centre line (either side)"),
    8: N_("8 points in a row more than 1σ from the centre line (either side)"),
}
