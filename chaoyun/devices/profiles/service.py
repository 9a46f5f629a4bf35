"""Device profiles: the rules (scope, evolution, import / export, copy from the city catalogue) and the functions
other contexts call.

A profile is a ``DeviceModel`` row with its ``MetricDef`` rows. The city catalogue is the profiles without an
organisation (the built-in models of ``devices/catalog.py`` and what the platform admin adds); an enterprise
sees the catalogue (read-only) and its own profiles, copies catalogue entries and writes its own.

Changing a profile never breaks stored data: metrics are added or deprecated; removing (or renaming) a metric
that has data, or changing its type, is refused. Every edit bumps ``version``; ingest picks it up at once in
this process and within seconds in the others.

For other contexts:

- ``profile_for_device(db, device_id) -> DeviceModel``: the device's profile (current version), no actor.
- ``roles_of(profile) -> {role: metric key}``: state, cycle_counter, good_count, reject_count, energy, power...
- ``default_cycle_s(profile)``: the profile's default seconds per cycle (production may override per item).
- ``state_of(profile, value)``: the machine state a reading of the state's source metric stands for.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.devices.models import Device, DeviceModel, MetricDef
from chaoyun.devices.profiles import document as pdoc
from chaoyun.devices.profiles import runtime
from chaoyun.devices.profiles.permissions import PROFILES_MANAGE
from chaoyun.errors import Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity import audit
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor, visible_orgs
from chaoyun.identity.reference import Role

# ---------------------------------------------------------------- scope


def profile_scope(actor: Actor) -> ColumnElement[bool]:
    """SQL filter over ``DeviceModel``: the catalogue, and the profiles of organisations the actor may read."""
    if actor.role == Role.PLATFORM_ADMIN:
        return true()
    if actor.audience == "enterprise":
        return or_(DeviceModel.org_id.is_(None), DeviceModel.org_id == actor.org_id)
    if actor.role in (Role.DISTRICT_OFFICER, Role.CITY_OFFICER):
        orgs = select(Organisation.id).where(visible_orgs(actor))
        return or_(DeviceModel.org_id.is_(None), DeviceModel.org_id.in_(orgs))
    return false()


def list_profiles(db: Session, actor: Actor, own_only: bool = False) -> list[DeviceModel]:
    stmt = select(DeviceModel).where(profile_scope(actor))
    if own_only:
        stmt = stmt.where(DeviceModel.org_id == actor.org_id)
    return list(db.execute(stmt.order_by(DeviceModel.org_id.is_not(None), DeviceModel.id)).scalars())


def get_profile(db: Session, actor: Actor, profile_id: int) -> DeviceModel:
    m = db.execute(select(DeviceModel).where(DeviceModel.id == profile_id, profile_scope(actor))).scalar_one_or_none()
    if m is None:
        raise NotFound(N_("No such device profile, or it is not yours to see."))
    return m


def can_write(actor: Actor, model: DeviceModel) -> bool:
    if actor.role == Role.PLATFORM_ADMIN:
        return True
    return model.org_id is not None and model.org_id == actor.org_id and actor.has(PROFILES_MANAGE)


def get_profile_for_write(db: Session, actor: Actor, profile_id: int) -> DeviceModel:
    m = get_profile(db, actor, profile_id)
    if not can_write(actor, m):
        if m.org_id is None:
            raise Forbidden(
                N_("The city catalogue is kept by the platform administrator; copy the entry to change it.")
            )
        raise Forbidden(N_("Your role may not change device profiles."))
    return m


def _target_org(actor: Actor, catalogue: bool, org_id: int | None) -> int | None:
    if actor.role == Role.PLATFORM_ADMIN:
        return None if catalogue else org_id
    if catalogue:
        raise Forbidden(N_("The city catalogue is kept by the platform administrator; copy the entry to change it."))
    if actor.audience != "enterprise" or not actor.has(PROFILES_MANAGE):
        raise Forbidden(N_("Your role may not change device profiles."))
    return actor.org_id


# ---------------------------------------------------------------- reading, for other contexts


def profile_for_device(db: Session, device_id: int) -> DeviceModel:
    """The current profile of a device (no actor: callers apply their own scope)."""
    m = db.execute(
        select(DeviceModel).join(Device, Device.model_id == DeviceModel.id).where(Device.id == device_id)
    ).scalar_one_or_none()
    if m is None:
        raise NotFound(N_("No such device, or it is not yours to see."))
    return m


def roles_of(profile: DeviceModel) -> dict[str, str]:
    return {m.role: m.key for m in profile.metrics if m.role}


def default_cycle_s(profile: DeviceModel) -> float | None:
    return profile.ideal_cycle_s


def state_of(profile: DeviceModel, value: float | str | None) -> str | None:
    """The machine state a reading of the state's source metric stands for (the string itself without a map)."""
    cfg = profile.state_config
    if not cfg:
        return None if value is None else str(value)
    if isinstance(value, str):
        return runtime.state_of(cfg, None, value)
    return runtime.state_of(cfg, value, None)


def export_text(db: Session, actor: Actor, profile_id: int, fmt: str = "yaml") -> str:
    return pdoc.dump(pdoc.document(get_profile(db, actor, profile_id)), "json" if fmt == "json" else "yaml")


# ---------------------------------------------------------------- writing


def _parse(source: str | dict[str, Any]) -> pdoc.ProfileDoc:
    return pdoc.load(source) if isinstance(source, str) else pdoc.check(source)


def _metrics_with_data(db: Session, model: DeviceModel, metric_ids: list[int]) -> set[int]:
    """Which of these metrics hold data on any device of the profile (the latest-values table)."""
    if not metric_ids:
        return set()
    from chaoyun.devices.store import get_store

    devices = [int(i) for i in db.execute(select(Device.id).where(Device.model_id == model.id)).scalars()]
    if not devices:
        return set()
    found: set[int] = set()
    wanted = set(metric_ids)
    for per in get_store().latest_rows(devices).values():
        found |= wanted & set(per)
    return found


def _fill(m: MetricDef, d: pdoc.MetricDoc) -> None:
    m.name_zh, m.name_en, m.unit, m.type = d.name_zh, d.name_en, d.unit, d.type
    m.min_value, m.max_value, m.precision, m.labels = d.min, d.max, d.precision, d.labels
    m.writable, m.role, m.deprecated, m.derived = d.writable, d.role, d.deprecated, d.derived


def _apply(db: Session, model: DeviceModel, doc: pdoc.ProfileDoc) -> None:
    """Write a checked document onto a profile, refusing changes that would break stored data."""
    old = {m.key: m for m in model.metrics}
    new = {d.key: d for d in doc.metrics}
    removed = [m for k, m in old.items() if k not in new]
    retyped = [(old[k], d) for k, d in new.items() if k in old and old[k].type != d.type]
    with_data = _metrics_with_data(db, model, [m.id for m in removed] + [m.id for m, _ in retyped])
    problems: list[pdoc.Problem] = []
    for m in removed:
        if m.id in with_data and not m.derived:
            problems.append(
                pdoc.Problem(
                    "metrics",
                    N_(
                        "The metric “%(metric)s” has stored data, so it cannot be removed or renamed; keep "
                        "it and mark it deprecated: true instead."
                    ),
                    {"metric": m.key},
                )
            )
    for m, d in retyped:
        if m.id in with_data:
            problems.append(
                pdoc.Problem(
                    "metrics",
                    N_(
                        "The metric “%(metric)s” has stored data, so its type cannot change from %(old)s to "
                        "%(new)s; add a new metric instead."
                    ),
                    {
                        "metric": m.key,
                        "old": pdoc.STORED_TYPES.get(m.type, m.type),
                        "new": pdoc.STORED_TYPES.get(d.type, d.type),
                    },
                )
            )
    if problems:
        db.rollback()
        raise pdoc.ProfileInvalid(problems)
    model.name_zh, model.name_en, model.category = doc.name_zh, doc.name_en, doc.category
    model.ideal_cycle_s = doc.ideal_cycle_s
    model.state_config = doc.state if doc.state and ("map" in doc.state or "running_above" in doc.state) else None
    model.connectors = doc.connectors
    for m in removed:
        if m.id in with_data:  # a derived state that is no longer derived keeps its history
            m.derived, m.deprecated = False, True
        else:
            model.metrics.remove(m)
    for d in doc.metrics:
        have = old.get(d.key)
        if have is None:
            have = MetricDef(key=d.key)
            model.metrics.append(have)
        _fill(have, d)
    model.version = (model.version or 0) + 1 if model.id else 1
    model.updated_at = utcnow()


def _forget_caches() -> None:
    from chaoyun.devices.ingest import forget_specs
    from chaoyun.devices.store import forget_metric_cache

    forget_specs()
    forget_metric_cache()


def _key_free(db: Session, key: str, own_id: int | None = None) -> None:
    stmt = select(DeviceModel.id).where(DeviceModel.key == key)
    if own_id is not None:
        stmt = stmt.where(DeviceModel.id != own_id)
    if db.execute(stmt).first() is not None:
        raise Conflict(N_("The profile key “%(key)s” is taken; choose another."), field="key", key=key)


def create_profile(
    db: Session, actor: Actor, source: str | dict[str, Any], catalogue: bool = False, org_id: int | None = None
) -> DeviceModel:
    """A new profile from a document (YAML / JSON text, or parsed data): the enterprise's own, or (platform
    admin, ``catalogue=True``) a city catalogue entry."""
    target = _target_org(actor, catalogue, org_id)
    doc = _parse(source)
    _key_free(db, doc.key)
    model = DeviceModel(key=doc.key, builtin=False, org_id=target, name_zh=doc.name_zh, name_en=doc.name_en)
    db.add(model)
    _apply(db, model, doc)
    db.flush()
    audit.record_by(db, actor, "create", "device_profile", model.id, after=pdoc.document(model))
    db.commit()
    _forget_caches()
    return model


def update_profile(db: Session, actor: Actor, profile_id: int, source: str | dict[str, Any]) -> DeviceModel:
    model = get_profile_for_write(db, actor, profile_id)
    doc = _parse(source)
    if doc.key != model.key:
        raise pdoc.ProfileInvalid(
            [pdoc.Problem("key", N_("The key of a profile cannot change (it is “%(key)s”)."), {"key": model.key})]
        )
    before = pdoc.document(model)
    _apply(db, model, doc)
    db.flush()
    after = pdoc.document(model)
    audit.record_by(db, actor, "update", "device_profile", model.id, before=before, after=after)
    db.commit()
    _forget_caches()
    return model


def copy_profile(db: Session, actor: Actor, profile_id: int, key: str | None = None) -> DeviceModel:
    """An enterprise's own copy of a catalogue entry (or of one of its profiles), to adapt."""
    src = get_profile(db, actor, profile_id)
    doc = pdoc.document(src)
    doc.pop("version", None)
    doc["key"] = key or f"{src.key}_{actor.org_id}"
    model = create_profile(db, actor, doc)
    model.source_key = src.key
    db.commit()
    return model


def delete_profile(db: Session, actor: Actor, profile_id: int) -> None:
    model = get_profile_for_write(db, actor, profile_id)
    if model.builtin:
        raise Forbidden(N_("Built-in catalogue entries cannot be deleted."))
    used = db.execute(select(Device.id).where(Device.model_id == model.id).limit(1)).first()
    if used is not None:
        raise Conflict(N_("Devices use this profile; move or delete them first."))
    audit.record_by(db, actor, "delete", "device_profile", model.id, before=pdoc.document(model))
    db.delete(model)
    db.commit()
    _forget_caches()


# ---------------------------------------------------------------- device connection (gateway generation)

CONNECTION_FIELDS = {"gateway", "protocol", "host", "port", "unit", "url", "interval_s"}


def set_connection(db: Session, actor: Actor, device_id: int, conn: dict[str, Any]) -> Device:
    """Where the device's gateway reaches it (protocol modbus: host, port, unit; opcua: url)."""
    from chaoyun.devices import service as devices

    device = devices.get_device_for_write(db, actor, device_id)
    clean = check_connection(conn)
    before = dict(device.connection or {})
    device.connection = clean
    audit.record_by(db, actor, "update", "device_connection", device.id, before=before, after=clean)
    db.commit()
    return device


def check_connection(conn: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in conn.items():
        if k not in CONNECTION_FIELDS:
            raise Invalid(N_("Unknown field."), field=k)
        if v is None or v == "":
            continue
        out[k] = v
    proto = out.get("protocol", "modbus")
    if proto not in ("modbus", "opcua"):
        raise Invalid(N_("The protocol must be modbus or opcua."), field="protocol")
    out["protocol"] = proto
    try:
        for k in ("port", "unit"):
            if k in out:
                out[k] = int(out[k])
        if "interval_s" in out:
            out["interval_s"] = float(out["interval_s"])
            if out["interval_s"] <= 0:
                raise ValueError
    except (TypeError, ValueError):
        raise Invalid(N_("Enter a number."), field="port") from None
    if "port" in out and not 1 <= out["port"] <= 65535:
        raise Invalid(N_("The port must be between 1 and 65535."), field="port")
    if "unit" in out and not 0 <= out["unit"] <= 255:
        raise Invalid(N_("The Modbus unit id must be between 0 and 255."), field="unit")
    for k in ("gateway", "host", "url"):
        if k in out:
            out[k] = str(out[k]).strip()[:200]
    return out
