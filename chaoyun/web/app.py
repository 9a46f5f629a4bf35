"""Application factory: routers of every context, error handling, static assets, language."""

from __future__ import annotations

import asyncio
import importlib
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chaoyun import __version__, i18n
from chaoyun.apps.usage import track_use
from chaoyun.errors import AppError
from chaoyun.i18n import N_
from chaoyun.settings import env, get_settings
from chaoyun.web.deps import CSRF_COOKIE, LoginRequired, anon_csrf, is_api
from chaoyun.web.guards import NulGuardMiddleware, server_error
from chaoyun.web.render import render, warm_templates
from chaoyun.web.validation import validation_payload

STATIC = Path(__file__).resolve().parent / "static"
# npm packages served under /static/vendor/<name>/ (installed at set-up, never committed).
VENDOR = {
    "bootstrap": "bootstrap/dist",
    "htmx": "htmx.org/dist",
    "echarts": "echarts/dist",
    "swagger-ui": "swagger-ui-dist",
}


def content_security_policy(nonce: str) -> str:
    """No inline script runs unless it carries this response's nonce; nothing is loaded from other hosts; no
    page of this site may be framed (frame-ancestors, with X-Frame-Options for old browsers). Styles may be
    inline (style attributes in templates, and the ones ECharts, htmx and Swagger UI set)."""
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "object-src 'none'; "
        "base-uri 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


class ShellHeadersMiddleware:
    """Pure ASGI (cheaper than BaseHTTPMiddleware): language from the cookie, security headers, and
    the pre-login CSRF cookie for pages.

    Every response gets a Content-Security-Policy with a fresh nonce (``request.state.csp_nonce``; templates
    put it on their inline scripts as ``nonce="{{ csp_nonce }}"``), and Strict-Transport-Security when served
    over HTTPS (the request came in as https, or ``CHAOYUN_COOKIE_SECURE=1`` says a proxy terminates TLS;
    ``CHAOYUN_HSTS_SECONDS=0`` turns it off).
    """

    def __init__(self, app: ASGIApp, secure_cookies: bool) -> None:
        self.app = app
        self.secure = secure_cookies
        self.hsts_seconds = int(env("HSTS_SECONDS") or 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        request.state.locale = i18n.normalise(request.cookies.get("cy_lang"))
        i18n.set_locale(request.state.locale)
        needs_cookie = not is_api(request) and CSRF_COOKIE not in request.cookies
        nonce = secrets.token_urlsafe(16)
        request.state.csp_nonce = nonce
        hsts = self.hsts_seconds > 0 and (self.secure or scope.get("scheme") == "https")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Content-Security-Policy", content_security_policy(nonce))
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
                if hsts:
                    headers.setdefault("Strict-Transport-Security", f"max-age={self.hsts_seconds}; includeSubDomains")
                if needs_cookie:
                    cookie = f"{CSRF_COOKIE}={anon_csrf(request)}; HttpOnly; Path=/; SameSite=lax"
                    headers.append("set-cookie", cookie + ("; Secure" if self.secure else ""))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def context_routers() -> list[APIRouter]:
    """Every context's ``views.router`` and ``api.router``; identity first, the rest by name."""
    package = Path(__file__).resolve().parent.parent
    names = sorted(p.name for p in package.iterdir() if (p / "__init__.py").exists() and p.name != "web")
    names.sort(key=lambda n: n != "identity")
    routers = []
    for name in names:
        for role in ("views", "api"):
            if (package / name / f"{role}.py").exists():
                module = importlib.import_module(f"chaoyun.{name}.{role}")
                routers.append(module.router)
        # Sub-packages of a context (e.g. devices/connectors) may bring their own routers too.
        for sub in sorted(p for p in (package / name).iterdir() if (p / "__init__.py").exists()):
            # ... and so may theirs, one level down (apps/maintenance/predict).
            for pkg in [sub, *sorted(p for p in sub.iterdir() if (p / "__init__.py").exists())]:
                dotted = ".".join(pkg.relative_to(package).parts)
                for role in ("views", "api"):
                    if (pkg / f"{role}.py").exists():
                        routers.append(importlib.import_module(f"chaoyun.{dotted}.{role}").router)
    return routers


def background_tasks() -> list[Callable[[], Coroutine[Any, Any, None]]]:
    """Long-running jobs of the contexts (``chaoyun/<ctx>/background.py: tasks() -> list``)."""
    package = Path(__file__).resolve().parent.parent
    jobs: list[Callable[[], Coroutine[Any, Any, None]]] = []
    for ctx in sorted(p for p in package.iterdir() if (p / "background.py").exists()):
        jobs.extend(importlib.import_module(f"chaoyun.{ctx.name}.background").tasks())
    return jobs


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Periodic tasks and claimed jobs run on the job runner (chaoyun/jobs): with the embedded queue this process
    # starts a worker; with CHAOYUN_JOBS_URL=redis://... it only enqueues. Per-process services stay here.
    from chaoyun.jobs import runner as jobs_runner

    services = jobs_runner.in_process(background_tasks()) if get_settings().background else []
    running = [asyncio.create_task(job()) for job in services]
    try:
        yield
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await asyncio.to_thread(jobs_runner.stop_in_process)


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        lifespan=lifespan,
        title="Chaoyun 潮云",
        version=__version__,
        # /api/docs is served below from the pinned npm package, not FastAPI's CDN default.
        docs_url=None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )

    for router in context_routers():
        # App use is recorded by request path (apps.usage maps /production, /apps/oee ... to an app), also on
        # routers of contexts below apps (production), which cannot depend on apps themselves.
        tracked = any(d.dependency is track_use for d in router.dependencies)
        app.include_router(router, dependencies=[] if tracked else [Depends(track_use)])
    warm_templates()

    app.mount("/static/app", StaticFiles(directory=STATIC), name="static")
    for name, rel in VENDOR.items():
        path = settings.static_vendor_dir / rel
        if path.is_dir():
            app.mount(f"/static/vendor/{name}", StaticFiles(directory=path), name=f"vendor-{name}")

    async def api_docs(request: Request) -> Response:
        # Swagger UI from /static/vendor (npm swagger-ui-dist, pinned in package-lock.json): no third-party
        # host, no floating version.
        page = get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="Chaoyun 潮云 API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
            # No badge fetched from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
        # Its one inline script (SwaggerUIBundle(...)) runs under the page's CSP nonce.
        nonce = getattr(request.state, "csp_nonce", "")
        html = bytes(page.body).decode("utf-8").replace("<script>", f'<script nonce="{nonce}">')
        return HTMLResponse(html, status_code=page.status_code)

    app.add_route("/api/docs", api_docs, include_in_schema=False)

    app.add_middleware(NulGuardMiddleware)
    app.add_middleware(ShellHeadersMiddleware, secure_cookies=settings.cookie_secure)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        if is_api(request):
            response: Response = JSONResponse(exc.payload(), status_code=exc.status)
        else:
            response = render(request, "error.html", {"error": exc}, status=exc.status)
        retry_after = getattr(exc, "retry_after", None)  # 429s (rate limits, sign-in throttling)
        if isinstance(retry_after, int):
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        url = f"/login?next={exc.next_url}"
        if exc.expired:
            url += "&expired=1"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        payload = validation_payload(exc.errors())
        if is_api(request):
            return JSONResponse(payload, status_code=422)
        err = AppError(
            N_("The request is malformed: %(detail)s"),
            detail="; ".join(f"{e['field']}: {e['message_en']}" for e in payload["error"]["fields"]),
        )
        return render(request, "error.html", {"error": err}, status=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        msgid = N_("Not found.") if exc.status_code == 404 else N_("Request failed.")
        err = AppError(msgid)
        err.status = exc.status_code
        if is_api(request):
            body = err.payload()
            body["error"]["code"] = "not_found" if exc.status_code == 404 else "http_error"
            return JSONResponse(body, status_code=exc.status_code)
        return render(request, "error.html", {"error": err}, status=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return server_error(request, exc, api=is_api(request))

    return app


def flat_routes(routes: list[Any]) -> list[Any]:
    """All routes, looking inside included routers (FastAPI ≥ 0.16x keeps them nested).

    Routers are included without an extra prefix, so each route's own path is its full path.
    """
    out: list[Any] = []
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            out.extend(flat_routes(list(inner.routes)))
        else:
            out.append(r)
    return out
