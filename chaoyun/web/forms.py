"""Forms that keep what was typed: one pattern for every HTML form (``/register`` does it by hand).

On bad input a view answers the *same page* with status 422: every error beside its field, the general
message on top, every value kept, and uploaded files kept too (staged), so nothing has to be typed or chosen
again. Nothing is stored until the whole form is valid.

Typical view::

    form = await FormState.read(request, actor, files=("invoice", "payment_proof"))
    amount = form.check("amount", lambda: parse_amount(form.get("amount"), "amount"))
    when = form.check("due_on", lambda: parse_date(form.get("due_on"), "due_on"))
    if form.ok:
        try:
            service.do(db, actor, amount, when, form.upload("invoice"))
            form.clear_staged()
            return RedirectResponse(...)
        except AppError as exc:
            db.rollback()
            form.fail(exc)
    return render(request, "x.html", {"form": form}, status=form.status)

Templates get ``form.values`` / ``form.errors`` / ``form.error`` / ``form.staged``; the macros in
``web/templates/_form.html`` (``fval``, ``ferr``, ``fcls``, ``fstaged``, ``fsummary``, each taking the
FormState first) draw them the same way everywhere. Pass an empty ``FormState()`` on the first showing. A
page with several forms tells them apart with a hidden field: ``form.only("call_id", c.id)``.

Once-only forms (creating something): the template sends ``<input type="hidden" name="form_token"
value="{{ form.token }}">``; the view calls ``form.first_submission()`` before saving — a repeat (a double
click, or Back and submit again) gets the URL the first one led to instead of creating a duplicate — then
``form.submitted(url)`` on success or ``form.release()`` on refusal.

Staged files: a file that came with a form that was refused is saved under
``CHAOYUN_VAR_DIR/staging/<token>`` (with its name and the user it belongs to) and the page shows
"already uploaded: name.pdf (replace)"; the form sends the token back in a hidden ``<name>__staged`` field
and, unless the user chose a new file, the staged one is used. Tokens are random, only their owner can use
them, and staged files older than a day are removed when new ones are staged.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from fastapi import Request
from starlette.datastructures import UploadFile

from chaoyun.errors import AppError
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.settings import get_settings

T = TypeVar("T")
STAGED_SUFFIX = "__staged"
ONCE_FIELD = "form_token"
MAX_AGE_S = 24 * 3600
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
GENERAL = N_("Some fields are invalid; nothing was saved.")


def staging_dir() -> Path:
    return get_settings().var_dir / "staging"


@dataclass
class StagedFile:
    """A file kept between two submissions of a form."""

    token: str
    filename: str
    data: bytes


def _valid_token(token: str) -> bool:
    return 16 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


def stage(user_id: int, filename: str, data: bytes) -> StagedFile:
    folder = staging_dir()
    folder.mkdir(parents=True, exist_ok=True)
    _sweep(folder)
    token = secrets.token_urlsafe(24)
    name = Path(filename or "upload").name[:200] or "upload"
    (folder / token).write_bytes(data)
    (folder / f"{token}.json").write_text(json.dumps({"user": user_id, "filename": name}), encoding="utf-8")
    return StagedFile(token, name, data)


def load_staged(user_id: int, token: str) -> StagedFile | None:
    """The staged file behind ``token`` if it exists and belongs to ``user_id``; otherwise None."""
    if not _valid_token(token):
        return None
    folder = staging_dir()
    try:
        meta = json.loads((folder / f"{token}.json").read_text(encoding="utf-8"))
        if int(meta.get("user", -1)) != user_id:
            return None
        return StagedFile(token, str(meta.get("filename", "upload")), (folder / token).read_bytes())
    except (OSError, ValueError):
        return None


def discard(token: str) -> None:
    if not _valid_token(token):
        return
    for p in (staging_dir() / token, staging_dir() / f"{token}.json"):
        p.unlink(missing_ok=True)


def _sweep(folder: Path) -> None:
    cutoff = time.time() - MAX_AGE_S
    for p in folder.iterdir():
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
        except OSError:
            pass


@dataclass
class FormState:
    """What the user sent, what is wrong with it, and the files kept for the next try."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: AppError | None = None
    staged: dict[str, StagedFile] = field(default_factory=dict)
    user_id: int | None = None

    @classmethod
    async def read(
        cls, request: Request, actor: Actor | None, files: Iterable[str] = (), max_bytes: int | None = None
    ) -> FormState:
        """Read the submitted form; each named file field is taken from the upload, or else from its staged
        token. New uploads are staged at once, so a refusal later still keeps them."""
        raw = await request.form()
        limit = max_bytes or DEFAULT_MAX_BYTES
        st = cls(
            values={k: v for k, v in raw.items() if isinstance(v, str) and k != "csrf_token"},
            user_id=actor.user.id if actor is not None else None,
        )
        for name in files:
            st.values.pop(name + STAGED_SUFFIX, None)
            up = raw.get(name)
            if isinstance(up, UploadFile) and up.filename:
                data = await up.read(limit + 1)
                if data and st.user_id is not None:
                    st.staged[name] = stage(st.user_id, up.filename, data)
                elif data:
                    st.staged[name] = StagedFile("", Path(up.filename).name, data)
                continue
            token = raw.get(name + STAGED_SUFFIX)
            if isinstance(token, str) and token and st.user_id is not None:
                kept = load_staged(st.user_id, token)
                if kept is not None:
                    st.staged[name] = kept
        return st

    def only(self, name: str, value: object) -> FormState:
        """This state if the form sent ``name=value`` (the form of a page that has several), else empty."""
        return self if self.values.get(name) == str(value) else FormState()

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def check(self, name: str, parse: Callable[[], T]) -> T | None:
        """Run one field's parser; a refusal is noted beside ``name`` (or the error's own field) and
        None returned, so the next fields are still checked and every error is shown at once."""
        try:
            return parse()
        except AppError as exc:
            self.errors.setdefault(exc.field or name, exc.message())
            return None

    def fail(self, exc: AppError) -> None:
        """A refusal of the whole form (usually from the service): shown beside its field if it names one,
        and on top."""
        if exc.field:
            self.errors.setdefault(exc.field, exc.message())
        self.error = exc

    @property
    def ok(self) -> bool:
        return not self.errors and self.error is None

    @property
    def status(self) -> int:
        """422 for field errors; a service refusal keeps its own status (409 conflict, 403...)."""
        if self.error is not None and not self.errors:
            return self.error.status
        return 422 if not self.ok else 200

    @property
    def summary(self) -> AppError | None:
        """The message shown on top of the form."""
        if self.error is not None:
            return self.error
        return AppError(GENERAL) if self.errors else None

    def upload(self, name: str) -> StagedFile | None:
        return self.staged.get(name)

    # --- once-only submission (a second click, or Back and submit again, creates nothing twice) -----------

    @property
    def token(self) -> str:
        """The form's one-time token: sent back on a re-render, a fresh one on the first showing."""
        t = self.values.get(ONCE_FIELD, "")
        if not _valid_token(t):
            t = secrets.token_urlsafe(18)
            self.values[ONCE_FIELD] = t
        return t

    def first_submission(self) -> str | None:
        """Claim this submission (atomically, so two concurrent clicks cannot both pass). None: go ahead;
        otherwise the page the first submission led to ("" while it is still being saved)."""
        t = self.values.get(ONCE_FIELD, "")
        if self.user_id is None or not _valid_token(t):
            return None  # a form without a token (API clients, old pages): nothing to deduplicate
        folder = staging_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"once-{self.user_id}-{t}"
        try:
            with path.open("x", encoding="utf-8"):
                return None
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip()

    def submitted(self, url: str) -> None:
        """The first submission succeeded and led to ``url``; a repeat is sent there too."""
        t = self.values.get(ONCE_FIELD, "")
        if self.user_id is not None and _valid_token(t):
            (staging_dir() / f"once-{self.user_id}-{t}").write_text(url, encoding="utf-8")

    def release(self) -> None:
        """The submission was refused: the same form may be sent again once corrected."""
        t = self.values.get(ONCE_FIELD, "")
        if self.user_id is not None and _valid_token(t):
            (staging_dir() / f"once-{self.user_id}-{t}").unlink(missing_ok=True)

    def clear_staged(self) -> None:
        """Once the form is saved the staged copies are no longer needed."""
        for f in self.staged.values():
            if f.token:
                discard(f.token)
