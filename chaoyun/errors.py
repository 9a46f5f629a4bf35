"""Errors raised by service functions; HTTP handlers turn them into bilingual answers."""

from __future__ import annotations

from typing import Any

from chaoyun.i18n import both, gettext


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, msgid: str, *, field: str | None = None, **params: Any) -> None:
        super().__init__(msgid % params if params else msgid)
        self.msgid = msgid
        self.field = field
        self.params = params

    def messages(self) -> dict[str, str]:
        return both(self.msgid, **self.params)

    def message(self) -> str:
        return gettext(self.msgid, **self.params)

    def payload(self) -> dict[str, Any]:
        m = self.messages()
        body: dict[str, Any] = {"code": self.code, "message_zh": m["zh"], "message_en": m["en"]}
        if self.field:
            body["field"] = self.field
        return {"error": body}


class Invalid(AppError):
    status = 422
    code = "invalid"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Conflict(AppError):
    status = 409
    code = "conflict"
