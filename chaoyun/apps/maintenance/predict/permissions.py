"""Permissions of condition monitoring and prediction: an enterprise's people see its machines' health
(``maintenance.predict.read``); its admins start monitoring and retrain models (``maintenance.predict.manage``).
Government roles hold neither: a machine's condition is the factory's own business."""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
PREDICT_READ = grant("maintenance.predict.read", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=False)
PREDICT_MANAGE = grant("maintenance.predict.manage", (R.ENTERPRISE_ADMIN,), write=True)
