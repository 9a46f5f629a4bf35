"""Condition monitoring and prediction (设备预测性维护): anomaly detection on live telemetry against a healthy
baseline per operating state, remaining useful life (a health-index trend per machine; LightGBM on
run-to-failure history for the C-MAPSS benchmark), a model registry, and predictive work orders through
:func:`chaoyun.apps.maintenance.service.create_work_order`. See docs/predictive-maintenance.md."""
