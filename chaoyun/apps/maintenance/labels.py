"""Codes of the maintenance app and their (translated) names."""

from __future__ import annotations

from chaoyun.i18n import N_

KINDS = {
    "preventive": N_("Preventive"),
    "corrective": N_("Corrective"),
    "predictive": N_("Predictive"),
}
STATES = {
    "open": N_("Not assigned"),
    "assigned": N_("Assigned"),
    "in_progress": N_("In progress"),
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
}
OPEN_STATES = ("open", "assigned", "in_progress")
TRIGGERS = {
    "calendar": N_("By calendar"),
    "runtime": N_("By running hours"),
    "cycles": N_("By cycle count"),
}
CALENDAR_UNITS = {"days": N_("days"), "weeks": N_("weeks")}
CAUSES = {
    "wear": N_("Wear"),
    "lubrication": N_("Lubrication"),
    "electrical": N_("Electrical fault"),
    "hydraulic": N_("Hydraulic fault"),
    "pneumatic": N_("Pneumatic fault"),
    "mould": N_("Mould or tooling"),
    "sensor": N_("Sensor or control"),
    "operator": N_("Operating error"),
    "material": N_("Material problem"),
    "routine": N_("Routine maintenance, no fault found"),
    "other": N_("Other"),
}
SEVERITIES = {
    "critical": N_("critical"),
    "major": N_("major"),
    "minor": N_("minor"),
    "warning": N_("warning"),
}
ALARM_KINDS = {
    "threshold": N_("threshold"),
    "rate": N_("rate of change"),
    "state": N_("machine state"),
    "offline": N_("offline"),
}
