"""Evidence files of self-checks, stored under CHAOYUN_VAR_DIR/security/evidence/ (hashed, type-checked by their
leading bytes, as the marketplace's evidence)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePath

from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.settings import get_settings

MAX_BYTES = 10 * 1024 * 1024
ALLOWED_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
MAGIC: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".xlsx": (b"PK\x03\x04",),
    ".docx": (b"PK\x03\x04",),
}


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def storage_dir() -> Path:
    d = get_settings().var_dir / "security" / "evidence"
    d.mkdir(parents=True, exist_ok=True)
    return d


def validate(upload: Upload, field: str = "file") -> str:
    name = PurePath(upload.filename or "").name
    ext = PurePath(name).suffix.lower()
    if not name:
        raise Invalid(N_("Choose a file to upload."), field=field)
    if ext not in ALLOWED_TYPES:
        raise Invalid(
            N_("The file %(name)s is not an accepted type; upload PDF, PNG, JPEG, XLSX or DOCX."),
            field=field,
            name=name,
        )
    if not upload.data:
        raise Invalid(N_("The file %(name)s is empty."), field=field, name=name)
    if len(upload.data) > MAX_BYTES:
        raise Invalid(
            N_("The file %(name)s is larger than the limit of %(limit)s MB."),
            field=field,
            name=name,
            limit=f"{MAX_BYTES / 1024 / 1024:g}",
        )
    if not upload.data.startswith(MAGIC[ext]):
        raise Invalid(N_("The content of %(name)s does not match its file type."), field=field, name=name)
    return ALLOWED_TYPES[ext]


def write(upload: Upload) -> tuple[str, str, str, Path]:
    """Check and write the bytes; returns (content type, sha256, stored name, path). The caller adds the row and
    removes the file if its commit fails."""
    ctype = validate(upload)
    stored = secrets.token_hex(16) + PurePath(upload.filename).suffix.lower()
    path = storage_dir() / stored
    path.write_bytes(upload.data)
    return ctype, hashlib.sha256(upload.data).hexdigest(), stored, path


def read(stored: str) -> bytes | None:
    path = storage_dir() / PurePath(stored).name
    return path.read_bytes() if path.exists() else None
