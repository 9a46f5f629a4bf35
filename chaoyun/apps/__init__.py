"""Production apps: OEE and losses, SPC quality analysis, energy and time-of-use cost, scheduled reports."""
