"""The units' pages behind their secret links (/u/{token}): what is required and by when, the
form, the receipt.

A submission goes: every check (files by content, the XLSX form, the figures) → the files
stored durably → the row committed → the receipt page and the acknowledgement email. The
checks live in dondoc (uploads, xlsxform, rules.figures, receipts); these routes wire them."""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from dondoc.intake import record_submission
from dondoc.links import resolve
from dondoc.office import consented_emails
from dondoc.receipts import enqueue_receipt, load_receipt
from dondoc.rules.figures import Value, parse_figures
from dondoc.settings import Settings, get_settings
from dondoc.storage import StoredFile
from dondoc.unitpage import Duty, duties
from dondoc.uploads import (
    ACCEPT_ATTRIBUTE,
    CheckedFile,
    UploadError,
    body_limit,
    body_too_large,
    check_files,
    limit_stream,
    store_checked,
)
from dondoc.xlsxform import FormIdentity, build_form, read_upload
from models import (
    Campaign,
    IndicatorDefinition,
    Submission,
    SubmissionFile,
    Unit,
    UploadLink,
)
from models.enums import Channel
from notifications.email import mask
from web.deps import DB, Now
from web.security import RateLimiter, bound_csrf_token, check_bound_csrf

router = APIRouter(prefix="/u")
log = logging.getLogger(__name__)

MAX_REPORT_FILES = 5
MAX_FIELDS = 100
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_LIMITS_LOCK = threading.Lock()


# --- the link ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitLink:
    token: str
    link: UploadLink
    campaign: Campaign
    unit: Unit


@dataclass
class RateLimits:
    # Per client address: bounds guessing and floods. Per link: bounds one unit's page.
    by_address: RateLimiter = field(default_factory=lambda: RateLimiter(rate=1.0, burst=60))
    by_link: RateLimiter = field(default_factory=lambda: RateLimiter(rate=0.5, burst=30))


def rate_limits(app: FastAPI) -> RateLimits:
    """The app's limits, kept on the app (not the module) so each app starts afresh."""
    with _LIMITS_LOCK:
        if not hasattr(app.state, "intake_limits"):
            app.state.intake_limits = RateLimits()
        limits: RateLimits = app.state.intake_limits
        return limits


def open_link(token: str, request: Request, session: DB) -> UnitLink:
    """The link's campaign and unit. 429 past a rate limit (checked before the database is
    asked); 404, revealing nothing, for an unknown or revoked token."""
    limits = rate_limits(request.app)
    if not limits.by_address.allow(request.client.host if request.client else "?"):
        raise HTTPException(status_code=429)
    link = resolve(session, token)
    if link is None:
        raise HTTPException(status_code=404)
    if not limits.by_link.allow(str(link.id)):
        raise HTTPException(status_code=429)
    campaign, unit = session.get(Campaign, link.campaign_id), session.get(Unit, link.unit_id)
    assert campaign is not None and unit is not None  # foreign keys
    return UnitLink(token, link, campaign, unit)


Link = Annotated[UnitLink, Depends(open_link)]


def _one_duty(session: Session, ctx: UnitLink, code: str, now: datetime) -> Duty:
    found = duties(session, ctx.campaign, ctx.unit, now, code)
    if not found:
        raise HTTPException(status_code=404)
    return found[0]


# --- pages ------------------------------------------------------------------------------------


@dataclass
class FormState:
    """What a form shows: messages, the figures as typed, and its retry key (kept when the
    form comes back with a problem: nothing was stored under it)."""

    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    messages: list[str] = field(default_factory=list)
    field_errors: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)


def _render(
    request: Request,
    ctx: UnitLink,
    session: Session,
    now: datetime,
    form: tuple[str, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    settings = get_settings()
    found = duties(session, ctx.campaign, ctx.unit, now)
    forms = {d.requirement.code: FormState() for d in found}
    if form is not None:
        forms[form[0]] = form[1]
    context = {
        "token": ctx.token,
        "campaign": ctx.campaign,
        "unit": ctx.unit,
        "duties": found,
        "forms": forms,
        "all_closed": bool(found) and all(d.closed for d in found),
        "csrf": bound_csrf_token(settings.secret(), ctx.link.token_hash),
        "accept": ACCEPT_ATTRIBUTE,
        "max_mb": settings.max_upload_mb,
        "max_files": MAX_REPORT_FILES,
    }
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "intake/page.html", context, status_code=status_code
    )


@router.get("/{token}")
def unit_page(request: Request, ctx: Link, session: DB, now: Now) -> Response:
    return _render(request, ctx, session, now)


@router.get("/{token}/form/{code}.xlsx")
def figures_form(code: str, ctx: Link, session: DB, now: Now) -> Response:
    duty = _one_duty(session, ctx, code, now)
    if not duty.fields:
        raise HTTPException(status_code=404)
    content = build_form(
        campaign=ctx.campaign, requirement=duty.requirement, unit=ctx.unit, fields=duty.fields
    )
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"bieu-mau-so-lieu-{code}-{ctx.unit.code}.xlsx")
    disposition = f'attachment; filename="{name}"'
    return Response(content, media_type=XLSX_TYPE, headers={"content-disposition": disposition})


@router.get("/{token}/receipt/{submission_id}")
def receipt_page(submission_id: int, request: Request, ctx: Link, session: DB) -> Response:
    receipt = load_receipt(
        session, submission_id, campaign_id=ctx.campaign.id or 0, unit_id=ctx.unit.id or 0
    )
    if receipt is None:
        raise HTTPException(status_code=404)
    mailed_to = [mask(a) for a in consented_emails(session, ctx.unit.id or 0)]
    context = {"token": ctx.token, "r": receipt, "mailed_to": mailed_to}
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "intake/receipt.html", context
    )


# --- a submission -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    form: FormData
    problem: UploadError | None = None


async def read_posted(request: Request, ctx: Link) -> AsyncIterator[Posted]:
    """The multipart body, read only once the link and the rate limits passed (`ctx`), and
    cut off as soon as it outgrows any acceptable submission. Spooled files closed after."""
    settings = get_settings()
    limit = body_limit(settings.max_upload_bytes, MAX_REPORT_FILES + 1)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        yield Posted(FormData(), body_too_large(limit, settings.max_upload_bytes))
        return
    body = limit_stream(request.stream(), max_bytes=limit, max_file_bytes=settings.max_upload_bytes)
    parser = MultiPartParser(
        request.headers, body, max_files=MAX_REPORT_FILES + 1, max_fields=MAX_FIELDS
    )
    try:
        form = await parser.parse()
    except UploadError as exc:
        yield Posted(FormData(), exc)
        return
    except (MultiPartException, KeyError) as exc:  # KeyError: no Content-Type at all
        code = "too_many_files" if "Too many files" in str(exc) else "bad_form"
        yield Posted(FormData(), UploadError(code, count=str(MAX_REPORT_FILES)))
        return
    try:
        yield Posted(form)
    finally:
        await form.close()


PostedForm = Annotated[Posted, Depends(read_posted)]


@router.post("/{token}/submit/{code}")
def submit(
    code: str,
    request: Request,
    ctx: Link,
    posted: PostedForm,
    session: DB,
    now: Now,
) -> Response:
    settings = get_settings()
    duty = _one_duty(session, ctx, code, now)
    if posted.problem is not None:
        state = FormState(messages=[posted.problem.vietnamese()])
        status = 413 if posted.problem.code == "body_too_large" else 400
        return _render(request, ctx, session, now, (code, state), status)
    form = posted.form
    check_bound_csrf(settings.secret(), ctx.link.token_hash, _text(form, "csrf_token"))
    key = _text(form, "idempotency_key")
    if not _KEY.match(key):
        raise HTTPException(status_code=400)
    earlier = _by_key(session, key)
    if earlier is not None:  # a double click or a retried POST: the same receipt
        return _to_receipt(ctx, earlier, duty)
    state = FormState(key=key, typed=_typed(form, duty.fields))
    if not duty.open:
        state.messages.append(_closed_message(duty))
        return _render(request, ctx, session, now, (code, state), 403)
    try:
        files, values = _check(form, duty, ctx, settings, state)
    except UploadError as exc:  # FormError included
        state.messages.append(exc.vietnamese())
        return _render(request, ctx, session, now, (code, state), 400)
    if state.messages:
        return _render(request, ctx, session, now, (code, state), 400)
    # Every check passed: now, and only now, the files are written, then the row committed.
    stored = store_checked(settings.effective_storage_dir, files)
    submission, _ = _record(session, duty, stored, values, key, now, files)
    return _to_receipt(ctx, submission, duty)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _typed(form: FormData, fields: Sequence[IndicatorDefinition]) -> dict[str, str]:
    typed = {f.key: _text(form, f"fig_{f.key}") for f in fields}
    return {key: text for key, text in typed.items() if text}


def _chosen(form: FormData, name: str) -> list[UploadFile]:
    # A file input left empty still sends a part, with no name and no content.
    return [
        u
        for u in form.getlist(name)
        if isinstance(u, UploadFile) and (u.filename or (u.size or 0) > 0)
    ]


def _check(
    form: FormData, duty: Duty, ctx: UnitLink, settings: Settings, state: FormState
) -> tuple[list[CheckedFile], dict[str, Value]]:
    """Every file and figure; refusals raise UploadError, figure problems go into `state`."""
    limit = settings.max_upload_bytes
    parts = [(u.filename, u.file) for u in _chosen(form, "files")]
    files = check_files(parts, max_bytes=limit, max_files=MAX_REPORT_FILES)
    if not files:
        state.messages.append("Đơn vị vui lòng đính kèm ít nhất một tệp báo cáo.")
    raw = state.typed
    sheets = _chosen(form, "figures_file") if duty.fields else []
    if sheets:
        identity = FormIdentity(ctx.campaign.code, duty.requirement.code, ctx.unit.code)
        keys = [f.key for f in duty.fields]
        sheet, raw = read_upload(
            sheets[0].filename, sheets[0].file, max_bytes=limit, expected=identity, keys=keys
        )
        files.append(sheet)  # the filled form is kept with the report
        if state.typed:
            state.messages.append(
                "Đơn vị vui lòng chọn một cách: nhập số liệu trên trang hoặc gửi biểu mẫu XLSX, "
                "không dùng cả hai cùng lúc."
            )
    values, errors = parse_figures(duty.fields, raw, sector=ctx.unit.sector)
    for error in errors:
        state.field_errors.setdefault(error.key, error.vietnamese())
        state.messages.append(error.vietnamese())
    return files, values


def _closed_message(duty: Duty) -> str:
    if duty.assignment.exempt:
        return "Đơn vị đã được miễn nộp báo cáo này."
    return (
        "Đã hết thời hạn nhận báo cáo này qua đường dẫn. Đơn vị vui lòng liên hệ "
        f"{duty.submit_to.name}."
    )


def _by_key(session: Session, key: str) -> Submission | None:
    return session.exec(select(Submission).where(Submission.idempotency_key == key)).first()


def _to_receipt(ctx: UnitLink, submission: Submission, duty: Duty) -> Response:
    if submission.assignment_id != duty.assignment.id:
        raise HTTPException(status_code=409)  # a key from another form: nothing to show
    return RedirectResponse(f"/u/{ctx.token}/receipt/{submission.id}", status_code=303)


def _record(
    session: Session,
    duty: Duty,
    stored: Sequence[StoredFile],
    values: dict[str, Value],
    key: str,
    now: datetime,
    checked: Sequence[CheckedFile],
) -> tuple[Submission, bool]:
    """Insert the new version and commit it before anything is acknowledged (the request's
    own commit comes only after the response). A concurrent twin with the same key makes the
    insert fail: its row is the answer. A concurrent other submission taking the same version
    number is retried with the next one."""
    for _ in range(3):
        try:
            submission = record_submission(
                session,
                assignment=duty.assignment,
                received_at=now,
                channel=Channel.PORTAL,
                files=stored,
                values=values,
                idempotency_key=key,
                now=now,
            )
            _label_types(session, submission.id or 0, checked)
            # The receipt is an outbox row committed with the submission; the dispatcher
            # sends it, so the request never waits on SMTP and never loses a receipt.
            enqueue_receipt(
                session,
                submission.id or 0,
                campaign_id=duty.requirement.campaign_id,
                unit_id=duty.assignment.unit_id,
                settings=get_settings(),
                now=now,
            )
            session.commit()
            return submission, True
        except IntegrityError:
            session.rollback()
            earlier = _by_key(session, key)
            if earlier is not None:
                log.info("submission %s was a concurrent retry", earlier.id)
                return earlier, False
    raise HTTPException(status_code=409)


def _label_types(session: Session, submission_id: int, checked: Sequence[CheckedFile]) -> None:
    # record_submission takes no content types (StoredFile has none): set them on its rows.
    types = {f.name: f.content_type for f in checked}
    query = select(SubmissionFile).where(SubmissionFile.submission_id == submission_id)
    for row in session.exec(query):
        row.content_type = types.get(row.name)
        session.add(row)
