"""Recording a report the office received on paper, by email or by Zalo, with its files and
figures. A refused form comes back filled in, with the problems listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session, select
from starlette.datastructures import FormData, UploadFile

from dondoc.intake import record_submission
from dondoc.labels import CHANNEL_LABELS_VI
from dondoc.rules.deadlines import DeadlineError, parse_local_datetime
from dondoc.rules.figures import Value, parse_figures
from dondoc.settings import get_settings
from dondoc.storage import FileTooLargeError, StoredFile, store
from models import IndicatorDefinition, Requirement, Submission, Unit
from models.enums import Channel
from web.deps import DB, Now
from web.office.common import (
    Csrf,
    FormUser,
    assignment_or_404,
    campaign_or_404,
    done,
    unit_or_404,
    unit_url,
)
from web.office.units import OFFICE_CHANNELS, unit_page_response

router = APIRouter()


async def read_form(request: Request) -> FormData:
    return await request.form()  # parsed once per request: the same object FastAPI read


Fields = Annotated[FormData, Depends(read_form)]


@dataclass(frozen=True)
class Entry:
    """What the form says, parsed; `errors` in Vietnamese, for the office."""

    channel: Channel | None
    received_at: datetime | None
    values: dict[str, Value]
    raw: dict[str, str]
    errors: list[str]


@router.post("/c/{code}/u/{unit_code}/record")
def record(
    request: Request,
    code: str,
    unit_code: str,
    session: DB,
    now: Now,
    user: FormUser,
    _: Csrf,
    form: Fields,
) -> Response:
    campaign, unit = campaign_or_404(session, code), unit_or_404(session, unit_code)
    assignment, requirement = assignment_or_404(session, campaign, unit, _text(form, "requirement"))
    url = unit_url(campaign, unit)
    key = _text(form, "idempotency_key")[:64] or None
    if key and session.exec(select(Submission).where(Submission.idempotency_key == key)).first():
        return done(request, session, url, "Báo cáo này đã được ghi nhận (gửi lại hai lần).")
    entry = _read(session, form, requirement, unit, now)
    stored, errors = _store(form) if not entry.errors else ([], entry.errors)
    if errors or entry.channel is None or entry.received_at is None:
        kept = {k: _text(form, k) for k in ("requirement", "channel", "received_at", "note")}
        return unit_page_response(
            request,
            session,
            campaign,
            unit,
            now,
            user,
            form={**kept, "values": entry.raw, "errors": errors},
            status_code=400,
        )
    submission = record_submission(
        session,
        assignment=assignment,
        received_at=entry.received_at,
        channel=entry.channel,
        files=stored,
        values=entry.values,
        recorded_by=user.username,
        note=_text(form, "note") or None,
        idempotency_key=key,
        now=now,
    )
    text = (
        f"Đã ghi nhận báo cáo phiên bản {submission.version} — "
        f"{CHANNEL_LABELS_VI[entry.channel.value]}, {len(stored)} tệp, {len(entry.values)} số liệu."
    )
    return done(request, session, url, text)


def _read(
    session: Session, form: FormData, requirement: Requirement, unit: Unit, now: datetime
) -> Entry:
    raw = {k[2:]: v for k, v in form.multi_items() if k.startswith("v_") and isinstance(v, str)}
    channel, received_at, errors = _channel_and_time(form, now)
    values, figure_errors = parse_figures(_rules(session, requirement), raw, sector=unit.sector)
    return Entry(
        channel, received_at, values, raw, errors + [e.vietnamese() for e in figure_errors]
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _channel_and_time(
    form: FormData, now: datetime
) -> tuple[Channel | None, datetime | None, list[str]]:
    errors = []
    channel = next((c for c in OFFICE_CHANNELS if c.value == _text(form, "channel")), None)
    if channel is None:
        errors.append("Chọn hình thức nhận báo cáo (giấy, thư điện tử hoặc Zalo).")
    received_at = None
    try:
        received_at = parse_local_datetime(_text(form, "received_at"), get_settings().tz)
    except DeadlineError:
        errors.append("Thời điểm nhận không hợp lệ (ví dụ: 24/11/2015 16:30).")
    if received_at is not None and received_at > now:
        errors.append("Thời điểm nhận không được sau thời điểm hiện tại.")
        received_at = None
    return channel, received_at, errors


def _rules(session: Session, requirement: Requirement) -> list[IndicatorDefinition]:
    definitions = session.exec(
        select(IndicatorDefinition).where(
            IndicatorDefinition.campaign_id == requirement.campaign_id
        )
    )
    return [d for d in definitions if d.key in requirement.indicator_keys]


def _store(form: FormData) -> tuple[list[StoredFile], list[str]]:
    """Files are durable before the row that points at them is written."""
    settings = get_settings()
    stored = []
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    for upload in uploads:
        try:
            stored.append(
                store(
                    settings.effective_storage_dir,
                    _file_name(upload.filename or "tep"),
                    upload.file,
                    max_bytes=settings.max_upload_bytes,
                )
            )
        except FileTooLargeError:
            limit = settings.max_upload_mb
            return [], [f"Tệp “{upload.filename}” lớn hơn {limit} MB."]
    return stored, []


def _file_name(name: str) -> str:
    # Browsers on some systems send a full path; keep the last part, at most 255 characters.
    return name.replace("\\", "/").rsplit("/", 1)[-1][-255:] or "tep"
