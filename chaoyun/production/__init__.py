"""Production: the factory's own model (items, routings, work orders, operation reports, lots)."""
