"""Display names of enum values of the devices context (templates translate them by value)."""

from chaoyun.i18n import N_

LABELS = (
    # live status and machine states
    N_("running"),
    N_("idle"),
    N_("down"),
    N_("offline"),
    N_("unknown"),
    N_("setup"),
    N_("fault"),
    N_("off"),
    # alarms
    N_("critical"),
    N_("major"),
    N_("minor"),
    N_("warning"),
    N_("acknowledged"),
    N_("cleared"),
    N_("alarm_filter_open"),
    N_("alarm_filter_active"),
    N_("alarm_filter_acknowledged"),
    N_("alarm_filter_cleared"),
    N_("alarm_filter_all"),
    N_("rule_threshold"),
    N_("rule_rate"),
    N_("rule_offline"),
    N_("rule_state"),
    # audit actions
    N_("rotate"),
    N_("acknowledge"),
    N_("clear"),
)
