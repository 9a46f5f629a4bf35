"""A virtual Shantou factory cluster: the demo enterprises' machines, publishing realistic telemetry."""
