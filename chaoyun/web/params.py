"""Bounded integer types for request parameters and schema fields.

Every integer a request carries ends up in a database query. SQLite and PostgreSQL store 64-bit integers; a
larger one raised OverflowError (SQLite) or "out of range" (PostgreSQL) deep in a query, a server error. These
types refuse such values at validation, with the usual bilingual 422, and tell the OpenAPI document the range.

Path parameters and parameters with a plain default: ``org_id: DbId``, ``year: Year | None = None``. With
``Query(...)`` / ``Form(...)`` as the default FastAPI drops the Annotated bounds, so pass them there:
``Form(..., ge=1, le=INT64_MAX)``.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Record ids: positive, within a 64-bit column.
DbId = Annotated[int, Ge(1), Le(INT64_MAX)]
# Any other whole number stored in a 64-bit column (counts, epoch milliseconds, "0 means none" form fields).
DbInt = Annotated[int, Ge(INT64_MIN), Le(INT64_MAX)]
YEAR_MIN, YEAR_MAX = 1900, 2200
# Calendar years (programme years, quotas, evaluations, filters).
Year = Annotated[int, Ge(YEAR_MIN), Le(YEAR_MAX)]
