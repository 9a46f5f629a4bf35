"""Bounded integer types for request parameters and schema fields.

Every integer a request carries ends up in a database query. Record ids and counts live in INTEGER columns,
32-bit on PostgreSQL (SQLite stores 64 bits); a larger number raised "integer out of range" (PostgreSQL) or
OverflowError (SQLite) deep in a query, a server error (found by the API fuzz on PostgreSQL). These types refuse
such values at validation, with the usual bilingual 422, and tell the OpenAPI document the range.

Path parameters and parameters with a plain default: ``org_id: DbId``, ``year: Year | None = None``. With
``Query(...)`` / ``Form(...)`` as the default FastAPI drops the Annotated bounds, so pass them there:
``Form(..., ge=1, le=INT32_MAX)``.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# Record ids: positive, within an INTEGER column (32-bit on PostgreSQL).
DbId = Annotated[int, Ge(1), Le(INT32_MAX)]
# Any other whole number stored in an INTEGER column (counts, quantities, "0 means none" form fields).
DbInt = Annotated[int, Ge(INT32_MIN), Le(INT32_MAX)]
YEAR_MIN, YEAR_MAX = 1900, 2200
# Calendar years (programme years, quotas, evaluations, filters).
Year = Annotated[int, Ge(YEAR_MIN), Le(YEAR_MAX)]
