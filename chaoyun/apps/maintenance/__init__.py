"""Maintenance app: plans by calendar, runtime hours and cycle counts; work orders (preventive, corrective,
predictive) with technicians, parts and maintenance windows; MTBF/MTTR/availability; spare parts.

The condition-monitoring and prediction half lives in the ``predict`` sub-package and creates predictive
orders through :func:`chaoyun.apps.maintenance.service.create_work_order`.
"""
