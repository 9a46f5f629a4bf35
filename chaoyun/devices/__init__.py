"""Devices: registry, credentials, ingest, telemetry store, alarms and live pages (issue 3)."""
