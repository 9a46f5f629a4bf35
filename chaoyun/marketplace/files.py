"""Attachments: application documents and assessment evidence, stored under CHAOYUN_VAR_DIR/marketplace/."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePath

from sqlalchemy.orm import Session

from chaoyun.errors import Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.marketplace.config import market_config
from chaoyun.marketplace.models import Attachment
from chaoyun.settings import get_settings

from .reference import ALLOWED_TYPES, MAGIC


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    kind: str = "other"


def storage_dir() -> Path:
    d = get_settings().var_dir / "marketplace" / "files"
    d.mkdir(parents=True, exist_ok=True)
    return d


def validate(upload: Upload, field: str = "attachments") -> str:
    """Check size and type before anything is saved; returns the content type."""
    name = PurePath(upload.filename).name
    ext = PurePath(name).suffix.lower()
    limit = market_config().upload_max_bytes
    if ext not in ALLOWED_TYPES:
        raise Invalid(
            N_("The file %(name)s is not an accepted type; upload PDF, PNG, JPEG, XLSX or DOCX."),
            field=field,
            name=name,
        )
    if not upload.data:
        raise Invalid(N_("The file %(name)s is empty."), field=field, name=name)
    if len(upload.data) > limit:
        raise Invalid(
            N_("The file %(name)s is larger than the limit of %(limit)s MB."),
            field=field,
            name=name,
            limit=f"{limit / 1024 / 1024:g}",
        )
    if not upload.data.startswith(MAGIC[ext]):
        raise Invalid(
            N_("The content of %(name)s does not match its file type."),
            field=field,
            name=name,
        )
    return ALLOWED_TYPES[ext]


def store(
    db: Session, org_id: int, object_type: str, object_id: int, upload: Upload, user_id: int | None
) -> tuple[Attachment, Path]:
    """Write the bytes and add the row (the caller commits, and removes the file if the commit fails)."""
    ctype = validate(upload)
    stored = secrets.token_hex(16) + PurePath(upload.filename).suffix.lower()
    path = storage_dir() / stored
    path.write_bytes(upload.data)
    att = Attachment(
        org_id=org_id,
        object_type=object_type,
        object_id=object_id,
        kind=upload.kind[:40],
        filename=PurePath(upload.filename).name[:200],
        content_type=ctype,
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        stored_name=stored,
        uploaded_by=user_id,
    )
    db.add(att)
    return att, path


def read(db: Session, actor: Actor, attachment_id: int) -> tuple[Attachment, bytes]:
    """A provider reads its own files; the city bureau reads all."""
    att = db.get(Attachment, attachment_id)
    if att is None or not (actor.is_city_wide or att.org_id == actor.org_id):
        raise NotFound(N_("No such attachment, or it is not yours to see."))
    path = storage_dir() / att.stored_name
    if not path.exists():
        raise NotFound(N_("No such attachment, or it is not yours to see."))
    return att, path.read_bytes()
