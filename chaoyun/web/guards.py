"""Request-level guards shared by every route: NUL characters in input, and the answer to an unexpected error."""

from __future__ import annotations

import logging
import re
import uuid

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chaoyun.errors import AppError
from chaoyun.i18n import N_
from chaoyun.web.validation import validation_payload

log = logging.getLogger("chaoyun.web")

# A JSON \u0000 escape that is not an escaped backslash followed by "u0000".
_JSON_NUL = re.compile(rb"(?:^|[^\\])(?:\\\\)*\\u0000")
_CHECKED_BODIES = ("application/json", "application/x-www-form-urlencoded")
MAX_SCANNED = 64 * 1024 * 1024


def _has_nul(body: bytes, ctype: str) -> bool:
    if b"\x00" in body:
        return True
    if ctype.startswith("application/x-www-form-urlencoded"):
        return b"%00" in body
    return b"\\u0000" in body and _JSON_NUL.search(body) is not None


class NulGuardMiddleware:
    """Refuses (422) a request with a NUL character in its path, query string, JSON or form body.

    PostgreSQL cannot store NUL in text and SQLite's full-text search fails on it, so such input reached the
    database as a server error. Refused here once instead of in every schema. Multipart bodies (uploads) pass
    through: their files are binary, and what is read from them is checked where it is parsed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]:
            await self._refuse(scope, receive, send)
            return
        ctype = ""
        for k, v in scope["headers"]:
            if k == b"content-type":
                ctype = v.decode("latin-1").lower()
                break
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
        if (
            scope["method"] not in ("POST", "PUT", "PATCH", "DELETE")
            or not ctype.startswith(_CHECKED_BODIES)
            or (declared.isdigit() and int(declared) > MAX_SCANNED)
        ):
            await self.app(scope, receive, send)
            return
        # Buffered to be scanned, up to MAX_SCANNED bytes; a larger body goes to the route unscanned (the
        # telemetry ingest refuses oversized bodies from their declared length, and checks NUL itself).
        messages: list[Message] = []
        size, more = 0, True
        while more and size <= MAX_SCANNED:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        if not more and _has_nul(b"".join(m.get("body", b"") for m in messages), ctype):
            await self._refuse(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        payload = validation_payload([{"loc": (), "type": "nul_character"}])
        await JSONResponse(payload, status_code=422)(scope, receive, send)


class ServerError(AppError):
    status = 500
    code = "server_error"


def server_error(request: Request, exc: Exception, api: bool) -> Response:
    """An unexpected exception: logged with a request id; the answer carries the id, never a stack trace."""
    request_id = uuid.uuid4().hex[:16]
    log.error("unhandled error (request %s) %s %s", request_id, request.method, request.url.path, exc_info=exc)
    err = ServerError(
        N_("Something went wrong on the server; it has been logged (request %(request_id)s)."), request_id=request_id
    )
    headers = {"X-Request-ID": request_id}
    if not api:
        m = err.messages()
        return PlainTextResponse(f"{m['zh']}\n{m['en']}\n", status_code=500, headers=headers)
    body = err.payload()
    body["error"]["request_id"] = request_id
    return JSONResponse(body, status_code=500, headers=headers)
