"""Uploaded documents of the workflows (invoices, payment proofs, acceptance reports, certificates).

Files are stored under ``CHAOYUN_VAR_DIR/programme/uploads/`` with a random name; the original name,
type, size and SHA-256 are kept in ``wf_files``. Only PDF, PNG and JPEG are accepted, recognised by their
first bytes (not by what the browser claims), up to ``CHAOYUN_UPLOAD_MAX_BYTES`` (default 10 MiB) each.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from chaoyun.errors import Invalid
from chaoyun.i18n import N_, Msgid
from chaoyun.identity.permissions import Actor
from chaoyun.programme.workflow_models import WorkflowFile
from chaoyun.settings import env, get_settings

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# Magic numbers of the accepted formats.
SIGNATURES: dict[str, tuple[bytes, str]] = {
    "pdf": (b"%PDF-", "application/pdf"),
    "png": (b"\x89PNG\r\n\x1a\n", "image/png"),
    "jpeg": (b"\xff\xd8\xff", "image/jpeg"),
}
# Msgid: the label is translated inside error messages too (缺少“发票”文件, not 缺少“Invoice”文件).
KIND_LABELS: dict[str, str] = {
    "invoice": Msgid(N_("Invoice")),
    "payment_proof": Msgid(N_("Payment proof")),
    "acceptance_report": Msgid(N_("Acceptance report")),
    "certificate": Msgid(N_("Certificate")),
    "cost_evidence": Msgid(N_("Cost evidence")),
    "contract": Msgid(N_("Contract")),
}


def max_bytes() -> int:
    try:
        return int(env("UPLOAD_MAX_BYTES"))
    except ValueError:
        return DEFAULT_MAX_BYTES


def upload_dir() -> Path:
    return get_settings().var_dir / "programme" / "uploads"


@dataclass
class Upload:
    kind: str
    filename: str
    data: bytes


def sniff(data: bytes) -> str | None:
    for sig, ctype in SIGNATURES.values():
        if data.startswith(sig):
            return ctype
    return None


def validate(upload: Upload) -> str:
    label = KIND_LABELS.get(upload.kind, upload.kind)
    if not upload.data:
        raise Invalid(N_("The file for “%(kind)s” is missing or empty."), kind=label, field=upload.kind)
    limit = max_bytes()
    if len(upload.data) > limit:
        raise Invalid(
            N_("The file for “%(kind)s” is %(size)s bytes; the limit is %(limit)s bytes."),
            kind=label,
            size=len(upload.data),
            limit=limit,
            field=upload.kind,
        )
    ctype = sniff(upload.data)
    if ctype is None:
        raise Invalid(N_("The file for “%(kind)s” must be a PDF, PNG or JPEG document."), kind=label, field=upload.kind)
    return ctype


def store(
    db: Session, actor: Actor | None, subject_type: str, subject_id: int, org_id: int, upload: Upload
) -> WorkflowFile:
    """Validate and write one file; the caller commits the row with the change it belongs to."""
    ctype = validate(upload)
    digest = hashlib.sha256(upload.data).hexdigest()
    name = f"{subject_type}-{subject_id}-{secrets.token_hex(8)}"
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(upload.data)
    safe_name = Path(upload.filename or "upload").name[:200] or "upload"
    row = WorkflowFile(
        subject_type=subject_type,
        subject_id=subject_id,
        org_id=org_id,
        kind=upload.kind,
        filename=safe_name,
        content_type=ctype,
        size=len(upload.data),
        sha256=digest,
        stored_as=name,
        uploaded_by=actor.user.id if actor else None,
    )
    db.add(row)
    return row


def read(row: WorkflowFile) -> bytes:
    return (upload_dir() / row.stored_as).read_bytes()
