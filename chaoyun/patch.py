"""Base for PATCH bodies: a field left out keeps its value; ``null`` only where the stored value may be empty."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError


class PatchModel(BaseModel):
    """Fields are declared ``X | None = None`` so they may be left out. An explicit ``null`` for a field whose
    column is NOT NULL was stored as is (a plan whose page then failed) or failed at commit; it is refused
    here (422, per field) unless the field is listed in ``nullable``."""

    model_config = ConfigDict(extra="forbid")
    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise PydanticCustomError("null_not_allowed", "null is not allowed; leave the field out to keep it")
        return value
