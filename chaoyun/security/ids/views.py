"""Pages of the intrusion detector: alerts with their rule explained, profiles, capture scans, and the forms to learn
a profile from a capture, upload one learned on the gateway, and scan a capture."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.devices.models import Device
from chaoyun.errors import AppError, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.security.ids import engine, service
from chaoyun.security.ids.labels import RULE_EXPLANATIONS, RULE_TITLES, SEVERITIES
from chaoyun.security.ids.models import IdsProfile
from chaoyun.security.ids.permissions import IDS_READ, IDS_WRITE
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.params import DbId
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)

nav.register(
    nav.NavItem("enterprise", N_("Intrusion detection"), "/security/ids", IDS_READ, 28, group="devices"),
    nav.NavItem("government", N_("Intrusion detection"), "/security/ids", IDS_READ, 38, group="devices"),
)

FLASH = {
    "learned": N_("Profile learned from the capture."),
    "uploaded": N_("Baseline profile saved."),
    "deleted": N_("Baseline profile deleted."),
    "scanned": N_("Capture scanned."),
}
RulesQuery = Query(None, pattern="^(" + "|".join(engine.RULES) + ")$")


def _device_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {i: n for i, n in db.execute(select(Device.id, Device.name).where(Device.id.in_(ids)))}


def _page(
    request: Request,
    db: Session,
    actor: Actor,
    forms: dict[str, FormState] | None = None,
    rule: str | None = None,
    severity: str | None = None,
    status: int = 200,
) -> Response:
    alerts = service.list_alerts(db, actor, rule, severity, limit=300)
    profiles = service.list_profiles(db, actor)
    scans = service.list_scans(db, actor)
    orgs = service.org_names(db, {a.org_id for a in alerts} | {p.org_id for p in profiles} | {s.org_id for s in scans})
    forms = forms or {}
    return render(
        request,
        "security_ids/index.html",
        {
            "alerts": alerts,
            "profiles": profiles,
            "own_profiles": [p for p in profiles if p.org_id == actor.org_id],
            "scans": scans,
            "orgs": orgs,
            "devices": _device_names(db, {a.device_id for a in alerts if a.device_id}),
            "counts": service.counts_by_rule(db, actor),
            "rules": engine.RULES,
            "titles": RULE_TITLES,
            "explanations": RULE_EXPLANATIONS,
            "severities": SEVERITIES,
            "rule": rule or "",
            "severity": severity or "",
            "can_write": actor.has(IDS_WRITE) and actor.audience == "enterprise",
            "show_org": actor.audience != "enterprise",
            "learn_form": forms.get("learn", FormState()),
            "upload_form": forms.get("upload", FormState()),
            "scan_form": forms.get("scan", FormState()),
            "flash": FLASH.get(request.query_params.get("done", "")),
        },
        status=status,
    )


@router.get("/security/ids")
def index(
    request: Request,
    rule: str | None = RulesQuery,
    severity: str | None = Query(None, pattern="^(critical|major|minor)$"),
    actor: Actor = requires(IDS_READ),
    db: Session = Depends(get_db),
) -> Response:
    return _page(request, db, actor, rule=rule, severity=severity)


def _refused(db: Session, form: FormState, exc: AppError) -> None:
    db.rollback()
    if isinstance(exc, NotFound | Forbidden):
        raise exc
    form.fail(exc)


@router.post("/security/ids/profiles/learn")
async def learn(request: Request, actor: Actor = requires(IDS_WRITE), db: Session = Depends(get_db)) -> Response:
    form = await FormState.read(request, actor, files=("capture", "labels"), max_bytes=service.MAX_CAPTURE_BYTES)
    cap = form.staged.get("capture")
    if cap is None:
        form.errors["capture"] = Invalid(N_("Choose a capture file (pcap or pcapng).")).message()
    if not form.get("name").strip():
        form.errors["name"] = Invalid(N_("Give the profile a name.")).message()
    if form.ok and cap is not None:
        lab = form.staged.get("labels")
        try:
            service.learn_profile(
                db,
                actor,
                form.get("name"),
                cap.filename,
                cap.data,
                lab.data.decode("utf-8", errors="replace") if lab else None,
            )
            form.clear_staged()
            return RedirectResponse("/security/ids?done=learned", status_code=303)
        except AppError as exc:
            _refused(db, form, exc)
    return _page(request, db, actor, {"learn": form}, status=form.status)


@router.post("/security/ids/profiles/upload")
async def upload(request: Request, actor: Actor = requires(IDS_WRITE), db: Session = Depends(get_db)) -> Response:
    form = await FormState.read(request, actor, files=("profile",), max_bytes=service.MAX_PROFILE_BYTES)
    up = form.staged.get("profile")
    if up is None:
        form.errors["profile"] = Invalid(N_("Choose the profile file (JSON from 'chaoyun ids learn').")).message()
    if form.ok and up is not None:
        try:
            service.save_profile(db, actor, form.get("name"), up.data)
            form.clear_staged()
            return RedirectResponse("/security/ids?done=uploaded", status_code=303)
        except AppError as exc:
            _refused(db, form, exc)
    return _page(request, db, actor, {"upload": form}, status=form.status)


@router.post("/security/ids/scans")
async def scan(request: Request, actor: Actor = requires(IDS_WRITE), db: Session = Depends(get_db)) -> Response:
    form = await FormState.read(request, actor, files=("capture",), max_bytes=service.MAX_CAPTURE_BYTES)
    cap = form.staged.get("capture")
    profile_id = form.get("profile_id")
    if not profile_id.isdigit() or not 0 < int(profile_id) < 2**31:
        form.errors["profile_id"] = Invalid(N_("Choose a profile.")).message()
    if cap is None:
        form.errors["capture"] = Invalid(N_("Choose a capture file (pcap or pcapng).")).message()
    if form.ok and cap is not None:
        try:
            s = service.scan_capture(db, actor, int(profile_id), cap.filename, cap.data)
            form.clear_staged()
            return RedirectResponse(f"/security/ids/scans/{s.id}?done=scanned", status_code=303)
        except AppError as exc:
            _refused(db, form, exc)
    return _page(request, db, actor, {"scan": form}, status=form.status)


@router.post("/security/ids/profiles/{ids_profile_id}/delete")
def delete(ids_profile_id: DbId, actor: Actor = requires(IDS_WRITE), db: Session = Depends(get_db)) -> Response:
    service.delete_profile(db, actor, ids_profile_id)  # a second click answers 404 (already deleted)
    return RedirectResponse("/security/ids?done=deleted", status_code=303)


def _alert_ctx(db: Session, alerts: list[Any]) -> dict[str, Any]:
    return {
        "devices": _device_names(db, {a.device_id for a in alerts if a.device_id}),
        "titles": RULE_TITLES,
        "explanations": RULE_EXPLANATIONS,
        "severities": SEVERITIES,
    }


@router.get("/security/ids/alerts/{ids_alert_id}")
def alert_page(
    ids_alert_id: DbId, request: Request, actor: Actor = requires(IDS_READ), db: Session = Depends(get_db)
) -> Response:
    a = service.get_alert(db, actor, ids_alert_id)
    orgs = service.org_names(db, {a.org_id})
    return render(request, "security_ids/alert.html", {"a": a, "org": orgs.get(a.org_id, ""), **_alert_ctx(db, [a])})


@router.get("/security/ids/scans/{ids_scan_id}")
def scan_page(
    ids_scan_id: DbId, request: Request, actor: Actor = requires(IDS_READ), db: Session = Depends(get_db)
) -> Response:
    s = service.get_scan(db, actor, ids_scan_id)
    alerts = service.list_alerts(db, actor, scan_id=s.id, limit=2000)
    p = db.get(IdsProfile, s.profile_id) if s.profile_id else None
    return render(
        request,
        "security_ids/scan.html",
        {
            "s": s,
            "alerts": alerts,
            "profile": p,
            "flash": FLASH.get(request.query_params.get("done", "")),
            **_alert_ctx(db, alerts),
        },
    )
