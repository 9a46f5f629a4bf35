"""JSON API of device profiles: list, read, create / replace (a profile document as YAML or JSON text, or as a
JSON object), copy from the catalogue, export, delete; device connections and generated gateway files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.devices.connectors.permissions import GATEWAYS_MANAGE, GATEWAYS_READ
from chaoyun.devices.models import DeviceModel
from chaoyun.devices.permissions import DEVICES_MANAGE, DEVICES_READ
from chaoyun.devices.profiles import document as pdoc
from chaoyun.devices.profiles import gateway_config
from chaoyun.devices.profiles import service as svc
from chaoyun.devices.profiles.permissions import PROFILES_MANAGE, PROFILES_READ
from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.web.deps import requires
from chaoyun.web.params import DbId

router = APIRouter(prefix="/api/v1", tags=["devices-profiles"])


class ProfileSummary(BaseModel):
    id: int
    key: str
    name_zh: str
    name_en: str
    category: str
    version: int
    catalogue: bool
    builtin: bool
    org_id: int | None
    source_key: str
    updated_at: datetime | None


class ProfileOut(ProfileSummary):
    document: dict[str, Any]


class ProfileIn(BaseModel):
    """Either ``text`` (a YAML or JSON document, errors with line numbers) or ``profile`` (the same as JSON)."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, max_length=1_000_000)
    profile: dict[str, Any] | None = None
    catalogue: bool = False  # platform admin: a city catalogue entry


class CopyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str | None = Field(default=None, max_length=64)


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gateway: str | None = Field(default=None, max_length=40)
    protocol: str = Field(default="modbus", max_length=8)
    host: str | None = Field(default=None, max_length=200)
    port: int | None = Field(default=None, ge=1, le=65535)
    unit: int | None = Field(default=None, ge=0, le=255)
    url: str | None = Field(default=None, max_length=200)
    interval_s: float | None = None


def summary(m: DeviceModel) -> ProfileSummary:
    return ProfileSummary(
        id=m.id,
        key=m.key,
        name_zh=m.name_zh,
        name_en=m.name_en,
        category=m.category,
        version=m.version,
        catalogue=m.org_id is None,
        builtin=m.builtin,
        org_id=m.org_id,
        source_key=m.source_key,
        updated_at=m.updated_at,
    )


def out(m: DeviceModel) -> ProfileOut:
    return ProfileOut(**summary(m).model_dump(), document=pdoc.document(m))


def _source(body: ProfileIn) -> str | dict[str, Any]:
    if body.text is not None:
        return body.text
    if body.profile is not None:
        return body.profile
    raise Invalid(N_("Send the profile as text (YAML or JSON) or as profile (an object)."), field="text")


@router.get("/device-profiles", response_model=list[ProfileSummary])
def list_profiles(actor: Actor = requires(PROFILES_READ), db: Session = Depends(get_db)) -> list[ProfileSummary]:
    return [summary(m) for m in svc.list_profiles(db, actor)]


@router.post("/device-profiles", response_model=ProfileOut, status_code=201)
def create_profile(
    body: ProfileIn, actor: Actor = requires(PROFILES_MANAGE), db: Session = Depends(get_db)
) -> ProfileOut:
    return out(svc.create_profile(db, actor, _source(body), catalogue=body.catalogue))


@router.get("/device-profiles/{profile_id}", response_model=ProfileOut)
def get_profile(profile_id: DbId, actor: Actor = requires(PROFILES_READ), db: Session = Depends(get_db)) -> ProfileOut:
    return out(svc.get_profile(db, actor, profile_id))


@router.put("/device-profiles/{profile_id}", response_model=ProfileOut)
def update_profile(
    profile_id: DbId, body: ProfileIn, actor: Actor = requires(PROFILES_MANAGE), db: Session = Depends(get_db)
) -> ProfileOut:
    return out(svc.update_profile(db, actor, profile_id, _source(body)))


@router.delete("/device-profiles/{profile_id}", status_code=204)
def delete_profile(
    profile_id: DbId, actor: Actor = requires(PROFILES_MANAGE), db: Session = Depends(get_db)
) -> Response:
    svc.delete_profile(db, actor, profile_id)
    return Response(status_code=204)


@router.post("/device-profiles/{profile_id}/copy", response_model=ProfileOut, status_code=201)
def copy_profile(
    profile_id: DbId, body: CopyIn, actor: Actor = requires(PROFILES_MANAGE), db: Session = Depends(get_db)
) -> ProfileOut:
    return out(svc.copy_profile(db, actor, profile_id, body.key or None))


@router.get("/device-profiles/{profile_id}/export")
def export_profile(
    profile_id: DbId,
    format: str = Query("yaml", pattern="^(yaml|json)$"),
    actor: Actor = requires(PROFILES_READ),
    db: Session = Depends(get_db),
) -> Response:
    return file_response(
        svc.get_profile(db, actor, profile_id).key, svc.export_text(db, actor, profile_id, format), format
    )


def file_response(name: str, text: str, fmt: str) -> Response:
    media = "application/json" if fmt == "json" else "application/yaml"
    ext = "json" if fmt == "json" else "yaml"
    return Response(
        text,
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.{ext}"'},
    )


@router.put("/devices/{device_id}/connection")
def put_connection(
    device_id: DbId, body: ConnectionIn, actor: Actor = requires(DEVICES_MANAGE), db: Session = Depends(get_db)
) -> dict[str, Any]:
    return dict(svc.set_connection(db, actor, device_id, body.model_dump(exclude_none=True)).connection)


@router.get("/devices/{device_id}/gateway-config")
def device_gateway_config(
    device_id: DbId, actor: Actor = requires(DEVICES_READ), db: Session = Depends(get_db)
) -> Response:
    """The ``chaoyun gateway --config`` file for this device alone (YAML)."""
    return file_response(f"gateway-{device_id}", gateway_config.for_device(db, actor, device_id), "yaml")


@router.get("/gateways/{gateway_id}/generated-config")
def generated_gateway_config(
    gateway_id: DbId, actor: Actor = requires(GATEWAYS_READ), db: Session = Depends(get_db)
) -> Response:
    """The gateway file generated from the profiles of the devices whose connection names this gateway."""
    return file_response(f"gateway-{gateway_id}", gateway_config.for_gateway(db, actor, gateway_id), "yaml")


@router.post("/gateways/{gateway_id}/generated-config/push")
def push_generated_config(
    gateway_id: DbId, actor: Actor = requires(GATEWAYS_MANAGE), db: Session = Depends(get_db)
) -> dict[str, Any]:
    gw = gateway_config.push_to_gateway(db, actor, gateway_id)
    return {"config_version": gw.config_version, "devices": len(gw.config.get("devices", []))}
