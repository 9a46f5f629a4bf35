"""Identifier rules (标识解析): enterprise prefixes, metadata templates, registration (one, in bulk, automatic for
produced lots), resolution in the Handle System's REST shape, authorisations and record integrity.

Identifiers read ``<national prefix>.<enterprise code>/<suffix>`` (``88.754.10023/B7K3QX9M2PA4TZ8W``). Suffixes
the platform generates are 16 random base-32 characters (80 bits), so nobody can walk an enterprise's
identifiers; outsiders get no listing, and an absent identifier and a withdrawn one answer the same 404.

Every record carries an HMAC-SHA256 over its content, keyed outside the database (derived from the audit key):
resolution refuses to serve a record whose MAC does not match, and ``verify_all`` lists every such record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.audit import audit_key, record_by
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Role
from chaoyun.settings import env
from chaoyun.trace.labels import OBJECT_CLASSES
from chaoyun.trace.models import Grant, Identifier, Prefix, Template, TemplateItem

HANDLE_RE = re.compile(r"^(?P<prefix>\d{1,6}(?:\.\d{1,10}){1,5})/(?P<suffix>[A-Za-z0-9][A-Za-z0-9._-]{0,119})$")
PREFIX_RE = re.compile(r"^\d{1,6}(?:\.\d{1,10}){0,4}$")
CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
DTYPES = ("text", "number", "date", "enum", "link")
MAX_TEXT = 500
BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
FIRST_INDEX = 2001


class RecordTampered(AppError):
    status = 500
    code = "record_tampered"


# ---------------------------------------------------------------- prefixes


def national_prefix() -> str:
    p = env("TRACE_NATIONAL_PREFIX").strip()
    if not PREFIX_RE.match(p):
        raise Invalid(N_("The configured national prefix %(prefix)s is not valid."), prefix=p)
    return p


def prefix_of(db: Session, org_id: int) -> Prefix | None:
    return db.execute(select(Prefix).where(Prefix.org_id == org_id)).scalar_one_or_none()


def ensure_prefix(db: Session, actor: Actor | None, org_id: int) -> Prefix:
    """The enterprise's prefix, allocated on first use with its default templates (audited)."""
    p = prefix_of(db, org_id)
    if p is not None:
        return p
    org = db.get(Organisation, org_id)
    if org is None or org.kind != "enterprise":
        raise Forbidden(N_("Only enterprises get an identifier prefix."))
    p = allocate(db, org_id)
    record_by(db, actor, "create", "trace_prefix", p.id, after={"prefix": p.prefix, "org_id": org_id})
    return p


def allocate(db: Session, org_id: int) -> Prefix:
    """The prefix row and default templates (``ensure_prefix`` audits it; test fixtures call this directly)."""
    p = Prefix(org_id=org_id, prefix=f"{national_prefix()}.{10000 + org_id}")
    db.add(p)
    db.flush()
    for code, (cls, name, items) in DEFAULT_TEMPLATES.items():
        t = Template(org_id=org_id, code=code, name=name, object_class=cls)
        for i, (icode, en, zh, dtype, options, required, public) in enumerate(items):
            t.items.append(
                TemplateItem(
                    idx=FIRST_INDEX + i,
                    code=icode,
                    name_en=en,
                    name_zh=zh,
                    dtype=dtype,
                    options=list(options),
                    required=required,
                    public=public,
                )
            )
        db.add(t)
    db.flush()
    return p


_I = tuple[str, str, str, str, tuple[str, ...], bool, bool]
DEFAULT_TEMPLATES: dict[str, tuple[str, str, list[_I]]] = {
    "META_batch": (
        "batch",
        "生产批次 Production batch",
        [
            ("product_code", "Product code", "产品编码", "text", (), True, True),
            ("product_name", "Product", "产品名称", "text", (), False, True),
            ("lot_number", "Lot number", "批次号", "text", (), True, True),
            ("produced_on", "Produced on", "生产日期", "date", (), False, True),
            ("inspection", "Inspection", "检验结论", "enum", ("pass", "fail", "pending"), False, True),
            ("model", "Product model identifier", "产品型号标识", "link", (), False, True),
            ("quantity", "Quantity", "数量", "number", (), False, False),
            ("work_order", "Work order", "工单", "text", (), False, False),
            ("machine", "Machine", "设备", "text", (), False, False),
            ("materials", "Material lots", "原料批次", "text", (), False, False),
        ],
    ),
    "META_model": (
        "model",
        "产品型号 Product model",
        [
            ("model_code", "Model code", "型号", "text", (), True, True),
            ("product_name", "Product", "产品名称", "text", (), True, True),
            ("standard", "Standard", "执行标准", "text", (), False, True),
            ("age_grade", "Age grade", "适用年龄", "text", (), False, True),
            ("bom_version", "BOM version", "物料清单版本", "text", (), False, False),
        ],
    ),
    "META_item": (
        "item",
        "单件 Single item",
        [
            ("serial", "Serial number", "序列号", "text", (), True, True),
            ("batch", "Batch identifier", "批次标识", "link", (), False, True),
            ("produced_on", "Produced on", "生产日期", "date", (), False, True),
        ],
    ),
    "META_device": (
        "device",
        "设备 Device",
        [
            ("device_name", "Device", "设备名称", "text", (), True, True),
            ("device_model", "Device model", "设备型号", "text", (), False, True),
            ("maker", "Maker", "制造商", "text", (), False, True),
            ("commissioned_on", "Commissioned on", "投用日期", "date", (), False, False),
        ],
    ),
    "META_material": (
        "material",
        "原料批次 Material lot",
        [
            ("material_code", "Material code", "物料编码", "text", (), True, True),
            ("supplier", "Supplier", "供应商", "text", (), False, False),
            ("supplier_lot", "Supplier lot", "供应商批次", "text", (), True, False),
            ("received_on", "Received on", "到货日期", "date", (), False, False),
            ("inspection", "Inspection", "检验结论", "enum", ("pass", "fail", "pending"), False, True),
        ],
    ),
}


# ---------------------------------------------------------------- handles


def parse_handle(text: str, field_name: str = "handle") -> tuple[str, str]:
    """(prefix, suffix) of a well-formed identifier, else a bilingual refusal."""
    h = (text or "").strip()
    m = HANDLE_RE.match(h)
    if m is None or len(h) > 200:
        raise Invalid(
            N_(
                "%(handle)s is not a valid identifier: it must read prefix/suffix, e.g. 88.754.10001/A1B2C3, "
                "with digits and dots before the slash and letters, digits, '.', '_' or '-' after it."
            ),
            field=field_name,
            handle=h[:80],
        )
    return m.group("prefix"), m.group("suffix")


def new_suffix(n: int = 16) -> str:
    """``n`` random base-32 characters (5 bits each: 16 give 80 bits)."""
    v = int.from_bytes(secrets.token_bytes((5 * n + 7) // 8), "big")
    return "".join(BASE32[(v >> (5 * k)) & 31] for k in range(n))


# ---------------------------------------------------------------- record integrity


@lru_cache(maxsize=4)
def _mac_key(audit: bytes) -> bytes:
    return hmac.new(audit, b"chaoyun-trace-record-v1", hashlib.sha256).digest()


def record_mac(
    handle: str,
    org_id: int,
    template_id: int,
    attrs: dict[str, Any],
    status: str,
    version: int,
    key: bytes | None = None,
) -> str:
    body = json.dumps(
        {"h": handle, "o": org_id, "t": template_id, "a": attrs, "s": status, "v": version},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hmac.new(key or _mac_key(audit_key()), body.encode(), hashlib.sha256).hexdigest()


def intact(i: Identifier) -> bool:
    expected = record_mac(i.handle, i.org_id, i.template_id, i.attrs or {}, i.status, i.version)
    return hmac.compare_digest(expected, i.record_mac or "")


def verify_all(db: Session, batch: int = 5000) -> tuple[int, list[str]]:
    """(records checked, handles whose MAC does not match)."""
    checked, last = 0, 0
    bad: list[str] = []
    while True:
        rows = list(
            db.execute(select(Identifier).where(Identifier.id > last).order_by(Identifier.id).limit(batch)).scalars()
        )
        if not rows:
            return checked, bad
        for i in rows:
            checked += 1
            if not intact(i):
                bad.append(i.handle)
        last = rows[-1].id


# ---------------------------------------------------------------- templates


def list_templates(db: Session, actor: Actor) -> list[Template]:
    return list(db.execute(select(Template).where(Template.org_id == actor.org_id).order_by(Template.code)).scalars())


def template_by_code(db: Session, org_id: int, code: str) -> Template | None:
    return db.execute(
        select(Template).where(Template.org_id == org_id, Template.code == (code or "").strip())
    ).scalar_one_or_none()


@dataclass
class ItemSpec:
    code: str
    name_en: str
    name_zh: str
    dtype: str
    options: list[str] = field(default_factory=list)
    required: bool = False
    public: bool = False


def create_template(
    db: Session, actor: Actor, code: str, name: str, object_class: str, items: list[ItemSpec]
) -> Template:
    ensure_prefix(db, actor, actor.org_id)
    code = (code or "").strip()
    if not CODE_RE.match(code):
        raise Invalid(N_("A code starts with a letter and holds letters, digits or '_' (at most 32)."), field="code")
    if template_by_code(db, actor.org_id, code) is not None:
        raise Conflict(N_("A template coded %(code)s exists already."), field="code", code=code)
    if object_class not in OBJECT_CLASSES:
        raise Invalid(N_("Choose an object class."), field="object_class")
    if not (name or "").strip():
        raise Invalid(N_("This field is required."), field="name")
    if not items:
        raise Invalid(N_("A template needs at least one item."), field="items")
    seen: set[str] = set()
    t = Template(org_id=actor.org_id, code=code, name=name.strip()[:100], object_class=object_class)
    for n, it in enumerate(items):
        where = f"items.{n}"
        if not CODE_RE.match(it.code) or it.code in seen:
            raise Invalid(N_("Each item needs its own code (a letter, then letters, digits or '_')."), field=where)
        if it.dtype not in DTYPES:
            raise Invalid(N_("Unknown data type."), field=where)
        if it.dtype == "enum" and not [o for o in it.options if o.strip()]:
            raise Invalid(N_("A choice item lists its choices."), field=where)
        seen.add(it.code)
        t.items.append(
            TemplateItem(
                idx=FIRST_INDEX + n,
                code=it.code,
                name_en=(it.name_en or it.code)[:100],
                name_zh=(it.name_zh or it.name_en or it.code)[:100],
                dtype=it.dtype,
                options=[o.strip() for o in it.options if o.strip()],
                required=it.required,
                public=it.public,
            )
        )
    db.add(t)
    db.flush()
    record_by(db, actor, "create", "trace_template", t.id, after={"code": code, "items": sorted(seen)})
    db.commit()
    return t


# ---------------------------------------------------------------- registration


@dataclass(frozen=True, slots=True)
class Spec:
    """A template item's rules, read once per template (not per row) for bulk registration."""

    code: str
    dtype: str
    options: tuple[str, ...]
    required: bool


def specs(t: Template) -> list[Spec]:
    return [Spec(i.code, i.dtype, tuple(i.options or ()), i.required) for i in t.items]


def _check_value(item: Spec, raw: Any) -> Any:
    """The stored form of one attribute value, or Invalid naming the item."""
    where = f"attrs.{item.code}"
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if item.required:
            raise Invalid(N_("%(item)s is required."), field=where, item=item.code)
        return None
    if item.dtype == "number":
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise Invalid(N_("%(item)s must be a number."), field=where, item=item.code) from None
        if not math.isfinite(v) or abs(v) > 1e15:
            raise Invalid(N_("%(item)s must be a number."), field=where, item=item.code)
        return int(v) if v.is_integer() else v
    text = raw.isoformat() if isinstance(raw, date) else str(raw).strip()
    if len(text) > MAX_TEXT or "\x00" in text:
        raise Invalid(N_("%(item)s is too long (at most 500 characters)."), field=where, item=item.code)
    if item.dtype == "date":
        try:
            return date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            raise Invalid(N_("%(item)s must be a date (YYYY-MM-DD)."), field=where, item=item.code) from None
    if item.dtype == "enum" and text not in item.options:
        raise Invalid(
            N_("%(item)s must be one of: %(choices)s."), field=where, item=item.code, choices=", ".join(item.options)
        )
    if item.dtype == "link":
        parse_handle(text, where)
    return text


def check_attrs(t: Template, attrs: dict[str, Any], rules: list[Spec] | None = None) -> dict[str, Any]:
    known = {i.code: i for i in (rules if rules is not None else specs(t))}
    unknown = [k for k in attrs if k not in known]
    if unknown:
        raise Invalid(
            N_("%(item)s is not an item of template %(template)s."),
            field=f"attrs.{unknown[0]}",
            item=unknown[0][:40],
            template=t.code,
        )
    out: dict[str, Any] = {}
    for code, item in known.items():
        v = _check_value(item, attrs.get(code))
        if v is not None:
            out[code] = v
    return out


def _own_handle(p: Prefix, suffix: str | None, field_name: str = "suffix") -> str:
    if suffix is None or not str(suffix).strip():
        return f"{p.prefix}/{new_suffix()}"
    s = str(suffix).strip()
    if "/" in s:
        # A whole identifier was given: its prefix must be the enterprise's own.
        pre, suf = parse_handle(s, field_name)
        if pre != p.prefix:
            raise Invalid(
                N_("Prefix %(given)s is not your enterprise's; yours is %(own)s."),
                field=field_name,
                given=pre,
                own=p.prefix,
            )
        return f"{pre}/{suf}"
    parse_handle(f"{p.prefix}/{s}", field_name)
    return f"{p.prefix}/{s}"


def _template_for(db: Session, org_id: int, code: str, field_name: str = "template") -> Template:
    t = template_by_code(db, org_id, code)
    if t is None:
        raise Invalid(N_("Your enterprise has no template coded %(code)s."), field=field_name, code=(code or "")[:40])
    return t


def _new_row(
    org_id: int,
    handle: str,
    t: Template,
    attrs: dict[str, Any],
    by: str,
    lot_id: int | None,
    key: bytes | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "org_id": org_id,
        "handle": handle,
        "template_id": t.id,
        "lot_id": lot_id,
        "attrs": attrs,
        "status": "active",
        "version": 1,
        "record_mac": record_mac(handle, org_id, t.id, attrs, "active", 1, key),
        "created_by": by,
        "created_at": now,
        "updated_at": now,
    }


def _handle_taken(db: Session, handle: str) -> bool:
    return db.execute(select(Identifier.id).where(Identifier.handle == handle)).first() is not None


def register(
    db: Session,
    actor: Actor,
    template: str,
    attrs: dict[str, Any],
    suffix: str | None = None,
    lot_id: int | None = None,
    commit: bool = True,
) -> Identifier:
    """Register one identifier under the actor's enterprise prefix."""
    p = ensure_prefix(db, actor, actor.org_id)
    t = _template_for(db, actor.org_id, template)
    handle = _own_handle(p, suffix)
    clean = check_attrs(t, attrs)
    if _handle_taken(db, handle):
        raise Conflict(N_("Identifier %(handle)s is registered already."), field="suffix", handle=handle)
    row = _new_row(actor.org_id, handle, t, clean, actor.user.username if actor else "system", lot_id)
    ident = Identifier(**row)
    db.add(ident)
    db.flush()
    record_by(db, actor, "create", "trace_identifier", ident.id, after={"handle": handle, "template": t.code, **clean})
    if commit:
        db.commit()
    return ident


@dataclass
class RowError:
    row: int
    field: str
    message_zh: str
    message_en: str


@dataclass
class BulkReport:
    created: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _row_error(row: int, exc: AppError) -> RowError:
    m = exc.messages()
    return RowError(row, exc.field or "", m["zh"], m["en"])


def register_many(db: Session, actor: Actor, rows: list[dict[str, Any]], first_row: int = 1) -> BulkReport:
    """Register many identifiers: each row ``{"template", "suffix"?, "attrs"}``. Good rows are kept, bad ones
    reported by row number (``first_row`` numbers the first); one audit entry lists the created handles' count
    and a SHA-256 over them."""
    report = BulkReport()
    p = ensure_prefix(db, actor, actor.org_id)
    templates: dict[str, Template | None] = {}
    rules: dict[int, list[Spec]] = {}
    key = _mac_key(audit_key())
    now = utcnow()
    pending: list[dict[str, Any]] = []
    seen: set[str] = set()
    by = actor.user.username
    for k, row in enumerate(rows, start=first_row):
        n = int(row.get("row", k))
        try:
            code = str(row.get("template") or "").strip()
            if code not in templates:
                templates[code] = template_by_code(db, actor.org_id, code)
            t = templates[code]
            if t is None:
                raise Invalid(N_("Your enterprise has no template coded %(code)s."), field="template", code=code[:40])
            handle = _own_handle(p, row.get("suffix"))
            if handle in seen:
                raise Conflict(N_("Identifier %(handle)s is registered already."), field="suffix", handle=handle)
            attrs = row.get("attrs") or {}
            if not isinstance(attrs, dict):
                raise Invalid(N_("Invalid value."), field="attrs")
            if t.id not in rules:
                rules[t.id] = specs(t)
            clean = check_attrs(t, attrs, rules[t.id])
        except AppError as exc:
            report.errors.append(_row_error(n, exc))
            continue
        seen.add(handle)
        pending.append({"_row": n, **_new_row(actor.org_id, handle, t, clean, by, None, key, now)})
    # Handles taken before this import (chosen suffixes only; generated ones are checked too, for certainty).
    taken: set[str] = set()
    handles = [r["handle"] for r in pending]
    for i in range(0, len(handles), 900):
        taken.update(db.execute(select(Identifier.handle).where(Identifier.handle.in_(handles[i : i + 900]))).scalars())
    good = []
    for r in pending:
        n = r.pop("_row")
        if r["handle"] in taken:
            report.errors.append(
                _row_error(
                    n, Conflict(N_("Identifier %(handle)s is registered already."), field="suffix", handle=r["handle"])
                )
            )
        else:
            good.append(r)
    # INSERT .. RETURNING with many parameter sets: SQLAlchemy's "insertmanyvalues" sends multi-row INSERTs from
    # one compiled statement (a plain executemany runs one INSERT per row on the server).
    conn = db.connection()
    if conn.dialect.name == "postgresql" and len(good) > 100:
        _copy_rows(conn, good)
    else:
        tbl: Table = Identifier.__table__  # type: ignore[assignment]
        for i in range(0, len(good), 5000):
            conn.execute(insert(tbl).returning(tbl.c.id), good[i : i + 5000]).all()
    report.created = [r["handle"] for r in good]
    if good:
        digest = hashlib.sha256("\n".join(report.created).encode()).hexdigest()
        record_by(
            db,
            actor,
            "import",
            "trace_identifier",
            "",
            after={
                "created": len(good),
                "rejected": len(report.errors),
                "handles_sha256": digest,
                "first": report.created[0],
                "last": report.created[-1],
            },
        )
    db.commit()
    return report


COPY_COLUMNS = (
    "org_id",
    "handle",
    "template_id",
    "lot_id",
    "attrs",
    "status",
    "version",
    "record_mac",
    "created_by",
    "created_at",
    "updated_at",
)


def _copy_rows(conn: Any, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's bulk path: COPY in the session's own transaction (committed with it)."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY trace_identifiers ({', '.join(COPY_COLUMNS)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(
                tuple(json.dumps(r["attrs"], ensure_ascii=False) if c == "attrs" else r[c] for c in COPY_COLUMNS)
            )


def update_attrs(db: Session, actor: Actor, identifier_id: int, attrs: dict[str, Any]) -> Identifier:
    ident = get_own(db, actor, identifier_id)
    if not intact(ident):
        raise RecordTampered(
            N_("The record of %(handle)s fails its integrity check; it was changed outside the platform."),
            handle=ident.handle,
        )
    merged = {**(ident.attrs or {}), **attrs}
    clean = check_attrs(ident.template, merged)
    before = dict(ident.attrs or {})
    ident.attrs = clean
    ident.version += 1
    ident.updated_at = utcnow()
    ident.record_mac = record_mac(ident.handle, ident.org_id, ident.template_id, clean, ident.status, ident.version)
    record_by(db, actor, "update", "trace_identifier", ident.id, before=before, after=clean)
    db.commit()
    return ident


def get_own(db: Session, actor: Actor, identifier_id: int) -> Identifier:
    i = db.get(Identifier, identifier_id)
    if i is None or i.org_id != actor.org_id:
        raise NotFound(N_("No such identifier, or it is not yours."))
    return i


def list_own(db: Session, actor: Actor, q: str | None = None, limit: int = 200, offset: int = 0) -> list[Identifier]:
    stmt = select(Identifier).where(Identifier.org_id == actor.org_id)
    if q:
        stmt = stmt.where(Identifier.handle.like(f"%{q.strip()[:100]}%"))
    return list(db.execute(stmt.order_by(Identifier.id.desc()).limit(limit).offset(offset)).scalars())


def identifier_of_lot(db: Session, lot_id: int) -> Identifier | None:
    return db.execute(select(Identifier).where(Identifier.lot_id == lot_id).order_by(Identifier.id)).scalars().first()


# ---------------------------------------------------------------- authorisations


def authorised(db: Session, viewer: Actor | None, owner_org_id: int) -> bool:
    if viewer is None:
        return False
    if viewer.role == Role.PLATFORM_ADMIN or viewer.org_id == owner_org_id:
        return True
    if viewer.audience != "enterprise":
        return False
    return (
        db.execute(select(Grant.id).where(Grant.org_id == owner_org_id, Grant.grantee_org_id == viewer.org_id)).first()
        is not None
    )


def list_grants(db: Session, actor: Actor) -> list[tuple[Grant, Organisation]]:
    stmt = (
        select(Grant, Organisation)
        .join(Organisation, Organisation.id == Grant.grantee_org_id)
        .where(Grant.org_id == actor.org_id)
        .order_by(Grant.id)
    )
    return [(g, o) for g, o in db.execute(stmt).all()]


def add_grant(db: Session, actor: Actor, credit_code: str) -> Grant:
    code = (credit_code or "").strip().upper()
    org = db.execute(select(Organisation).where(Organisation.credit_code == code)).scalar_one_or_none()
    if org is None or org.kind != "enterprise" or org.status != "active":
        raise Invalid(N_("No active enterprise has this unified social credit code."), field="credit_code")
    if org.id == actor.org_id:
        raise Invalid(N_("Your own enterprise always sees its identifiers."), field="credit_code")
    existing = db.execute(
        select(Grant).where(Grant.org_id == actor.org_id, Grant.grantee_org_id == org.id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    g = Grant(org_id=actor.org_id, grantee_org_id=org.id)
    db.add(g)
    db.flush()
    record_by(db, actor, "create", "trace_grant", g.id, after={"grantee": org.name})
    db.commit()
    return g


def remove_grant(db: Session, actor: Actor, grant_id: int) -> None:
    g = db.get(Grant, grant_id)
    if g is None or g.org_id != actor.org_id:
        raise NotFound(N_("No such authorisation."))
    record_by(db, actor, "delete", "trace_grant", g.id, before={"grantee_org_id": g.grantee_org_id})
    db.delete(g)
    db.commit()


# ---------------------------------------------------------------- resolution


NOT_FOUND = N_("No such identifier.")


def lookup(db: Session, handle: str) -> Identifier:
    """The active identifier; an absent and a withdrawn one answer the same 404, a tampered one refuses."""
    parse_handle(handle)
    i = db.execute(select(Identifier).where(Identifier.handle == handle.strip())).scalar_one_or_none()
    if i is None or i.status != "active":
        raise NotFound(NOT_FOUND)
    if not intact(i):
        raise RecordTampered(
            N_("The record of %(handle)s fails its integrity check; it was changed outside the platform."),
            handle=i.handle,
        )
    return i


def _data(item: TemplateItem, value: Any) -> dict[str, Any]:
    fmt = {"number": "number", "date": "date", "link": "handle"}.get(item.dtype, "string")
    return {"format": fmt, "value": value}


def resolve(
    db: Session,
    viewer: Actor | None,
    handle: str,
    base_url: str,
    full: bool = False,
    types: list[str] | None = None,
    indexes: list[int] | None = None,
) -> dict[str, Any]:
    """The Handle REST JSON of an identifier: ``responseCode`` 1, ``handle``, ``values`` (index, type, data,
    ttl, timestamp). Public values for anyone; non-public ones only to the owner and those it authorised —
    asking for them otherwise (``full``, or a private ``type`` / ``index``) is a 403."""
    i = lookup(db, handle)
    allowed = authorised(db, viewer, i.org_id)
    t = i.template
    items = list(t.items)
    if types:
        items = [it for it in items if it.code in types]
    if indexes:
        items = [it for it in items if it.idx in indexes]
    wants_private = full or any(not it.public for it in items if types or indexes)
    if wants_private and not allowed:
        raise Forbidden(
            N_(
                "The non-public attributes of this identifier are shown only to the enterprise that registered it "
                "and the enterprises it authorised."
            )
        )
    org = db.get(Organisation, i.org_id)
    ts = i.updated_at.isoformat() if i.updated_at else ""
    values: list[dict[str, Any]] = []
    if not types and not indexes:
        values.append({"index": 1, "type": "URL", "data": {"format": "string", "value": f"{base_url}/t/{i.handle}"}})
        values.append(
            {
                "index": 2,
                "type": "TEMPLATE",
                "data": {"format": "string", "value": f"{i.handle.split('/')[0]}/{t.code}"},
            }
        )
        values.append({"index": 3, "type": "MAKER", "data": {"format": "string", "value": org.name if org else ""}})
        values.append({"index": 4, "type": "OBJECT_CLASS", "data": {"format": "string", "value": t.object_class}})
    for it in items:
        if it.code not in (i.attrs or {}):
            continue
        if not it.public and not allowed:
            continue
        values.append({"index": it.idx, "type": it.code, "data": _data(it, i.attrs[it.code])})
    if not types and not indexes:
        values.append({"index": 400, "type": "RECORD_HMAC_SHA256", "data": {"format": "hex", "value": i.record_mac}})
    for v in values:
        v["ttl"] = 86400
        v["timestamp"] = ts
    return {"responseCode": 1, "handle": i.handle, "values": values}


def view_of(db: Session, viewer: Actor | None, handle: str) -> dict[str, Any]:
    """What the scan page shows: the identifier, its maker, the items the viewer may see, whether there is more."""
    i = lookup(db, handle)
    allowed = authorised(db, viewer, i.org_id)
    org = db.get(Organisation, i.org_id)
    shown = []
    hidden = 0
    for it in i.template.items:
        if it.code not in (i.attrs or {}):
            continue
        if it.public or allowed:
            shown.append((it, i.attrs[it.code]))
        else:
            hidden += 1
    return {"ident": i, "org": org, "shown": shown, "hidden": hidden, "authorised": allowed}


def template_of_class(db: Session, org_id: int, object_class: str) -> Template | None:
    return (
        db.execute(
            select(Template)
            .where(Template.org_id == org_id, Template.object_class == object_class)
            .order_by(Template.id)
        )
        .scalars()
        .first()
    )
