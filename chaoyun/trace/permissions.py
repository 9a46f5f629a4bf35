"""Permissions of the trace context.

- ``trace.read`` (enterprise admins and members): the enterprise's identifiers, templates, trace graph, recall
  lists and labels.
- ``trace.manage`` (enterprise admins, write): register identifiers (one, in bulk), templates, authorisations,
  deliveries to customers outside the platform, manual lot links.

Resolution itself (``/api/v1/trace/handles/...`` and the scan page ``/t/...``) is public by design: anyone who
scans a label sees the public attributes; the rest only the registering enterprise and those it authorised.
"""

from __future__ import annotations

from chaoyun.identity.permissions import grant
from chaoyun.identity.reference import Role

R = Role
TRACE_READ = grant("trace.read", (R.ENTERPRISE_ADMIN, R.ENTERPRISE_MEMBER), write=False)
TRACE_MANAGE = grant("trace.manage", (R.ENTERPRISE_ADMIN,), write=True)
