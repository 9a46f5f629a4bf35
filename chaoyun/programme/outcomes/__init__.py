"""Monthly outcome snapshots per enterprise, computed from platform records by the platform's own rules."""
