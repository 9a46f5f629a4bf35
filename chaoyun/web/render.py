"""Jinja2 rendering with per-request language; templates live in each context's templates/."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from chaoyun import i18n, timefmt
from chaoyun.identity.audit_labels import action_label, object_label
from chaoyun.identity.reference import CLUSTER_EN, CLUSTER_ZH, DISTRICT_EN, DISTRICT_ZH, Cluster, District
from chaoyun.web import nav

PACKAGE = Path(__file__).resolve().parent.parent


def template_dirs() -> list[str]:
    dirs = [PACKAGE / "web" / "templates"]
    dirs += sorted(p for p in PACKAGE.glob("*/templates") if p.parent.name != "web")
    return [str(d) for d in dirs]


def district_name(code: str | None) -> str:
    if not code:
        return ""
    try:
        d = District(code)
    except ValueError:
        return code
    return DISTRICT_EN[d] if i18n.get_locale() == "en" else DISTRICT_ZH[d]


def cluster_name(code: str | None) -> str:
    if not code:
        return ""
    try:
        c = Cluster(code)
    except ValueError:
        return code
    return CLUSTER_EN[c] if i18n.get_locale() == "en" else CLUSTER_ZH[c]


def _query(request: Request, **changes: Any) -> str:
    params = dict(request.query_params)
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = str(v)
    return "?" + urlencode(params)


def format_dt(value: Any, fmt: str | None = None, empty: str = "") -> str:
    """The ``dt`` filter: a stored (UTC) time in the deployment's zone and format (chaoyun.timefmt)."""
    return timefmt.format_dt(value, fmt, empty)


@lru_cache(maxsize=1)
def env() -> Environment:
    e = Environment(
        loader=FileSystemLoader(template_dirs()),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,
    )
    e.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    e.globals.update(district_name=district_name, cluster_name=cluster_name, query=_query)
    e.globals.update(audit_action=action_label, audit_object=object_label)
    # One clock: {{ x|dt }} / {{ x|date }} / {{ x|time }} show stored UTC times in CHAOYUN_TIMEZONE;
    # tz_offset ("+08:00") is for scripts that format times themselves (charts, live values).
    e.filters.update(dt=format_dt, date=timefmt.format_date, time=timefmt.format_time)
    e.globals.update(tz_offset=timefmt.utc_offset, tz_label=timefmt.zone_label, tz_name=timefmt.zone_name)
    return e


def warm_templates() -> int:
    """Compile every template once at start-up, so the first concurrent requests don't all compile."""
    e = env()
    names = e.list_templates(filter_func=lambda n: n.endswith(".html"))
    for name in names:
        e.get_template(name)
    return len(names)


def render(request: Request, name: str, ctx: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    from chaoyun.web.deps import anon_csrf, usable_actor

    locale = getattr(request.state, "locale", None) or i18n.normalise(request.cookies.get("cy_lang"))
    i18n.set_locale(locale)
    actor = usable_actor(getattr(request.state, "actor", None))
    csrf = getattr(request.state, "csrf_token", None) or anon_csrf(request)
    context: dict[str, Any] = {
        "request": request,
        "actor": actor,
        "locale": locale,
        "csrf_token": csrf,
        "nav_items": nav.for_actor(actor),
        "nav_menu": nav.groups_for(actor),
        "path": request.url.path,
        # Inline <script nonce="{{ csp_nonce }}">: the Content-Security-Policy runs no other inline script.
        "csp_nonce": getattr(request.state, "csp_nonce", ""),
    }
    context.update(ctx or {})
    html = env().get_template(name).render(context)
    return HTMLResponse(html, status_code=status)
