"""A unit's page in a campaign (versions, files, figures, extensions, history) and file
downloads."""

from __future__ import annotations

import secrets
from datetime import datetime
from mimetypes import guess_type
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlmodel import Session

from dondoc.labels import CHANNEL_LABELS_VI, SECTOR_LABELS_VI
from dondoc.rules.deadlines import format_deadline_vi
from dondoc.rules.status import STATUS_LABELS_VI
from dondoc.settings import get_settings
from models import AuditEvent, Campaign, OfficeUser, SubmissionFile, Unit
from models.enums import Channel
from web.deps import DB, Now, User
from web.office.common import REVEAL, attachment, campaign_or_404, render, unit_or_404, unit_url
from web.office.unit_view import unit_detail

router = APIRouter()
OFFICE_CHANNELS = (Channel.OFFICE, Channel.EMAIL, Channel.ZALO)
ACTIONS = ("record", "review", "extend", "exempt", "link", "settle")
EVENT_LABELS = {
    "submission.received": "Nhận báo cáo",
    "submission.accepted": "Chấp nhận báo cáo",
    "submission.returned": "Trả lại để bổ sung",
    "assignment.extended": "Gia hạn",
    "assignment.exempted": "Miễn nộp",
    "link.reissued": "Cấp lại đường dẫn nộp báo cáo",
    "notice.sent": "Đã gửi thư điện tử",
    "notice.failed": "Gửi thư điện tử không thành công",
    "delivery.settled": "Xử lý tin nhắn chưa rõ kết quả",
}


@router.get("/c/{code}/u/{unit_code}")
def unit_page(
    request: Request, code: str, unit_code: str, session: DB, now: Now, user: User
) -> Response:
    campaign = campaign_or_404(session, code)
    return unit_page_response(
        request, session, campaign, unit_or_404(session, unit_code), now, user
    )


@router.get("/c/{code}/u/{unit_code}/{action}")
def after_login(code: str, unit_code: str, action: str, user: User) -> Response:
    """Actions are POST only; landing on one (after logging in again) shows the unit page."""
    if action not in ACTIONS:
        raise HTTPException(status_code=404)
    return RedirectResponse(f"/office/c/{code}/u/{unit_code}", status_code=303)


def unit_page_response(
    request: Request,
    session: Session,
    campaign: Campaign,
    unit: Unit,
    now: datetime,
    user: OfficeUser,
    *,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The unit page; `form` re-fills the recording form after a refused attempt."""
    detail = unit_detail(session, campaign, unit, now=now)
    if not detail.assignments:
        raise HTTPException(status_code=404)
    tz = get_settings().tz
    context = {
        "campaign": campaign,
        "detail": detail,
        "now": now,
        "url": unit_url(campaign, unit),
        "revealed": request.session.pop(REVEAL, None),
        "statuses": STATUS_LABELS_VI,
        "sectors": SECTOR_LABELS_VI,
        "channels": [(c.value, CHANNEL_LABELS_VI[c.value]) for c in OFFICE_CHANNELS],
        "deliveries": detail.deliveries,
        "events": [
            (e, EVENT_LABELS.get(e.action, e.action), event_note(e, tz)) for e in detail.events
        ],
        "received_default": f"{now.astimezone(tz):%Y-%m-%dT%H:%M}",
        "idempotency_key": secrets.token_hex(16),
        "form": form or {},
    }
    return render(request, "office/unit.html", context, user=user, status_code=status_code)


def event_note(event: AuditEvent, tz: ZoneInfo) -> str:
    """A short Vietnamese note on what an audit event recorded."""
    d = event.details or {}
    parts = []
    if "version" in d:
        parts.append(f"phiên bản {d['version']}")
    if "channel" in d:
        parts.append(CHANNEL_LABELS_VI.get(str(d["channel"]), str(d["channel"])))
    if "sent" in d:
        parts.append("xác nhận đã đến người nhận" if d["sent"] else "gửi lại")
    if "due_at" in d:
        parts.append(f"hạn mới {format_deadline_vi(datetime.fromisoformat(str(d['due_at'])), tz)}")
    if "to" in d:
        parts.append(f"tới {d['to']}")
    if "reason" in d:
        parts.append(f"lý do: {d['reason']}")
    return "; ".join(parts)


@router.get("/files/{file_id:int}")
def download(file_id: int, session: DB, user: User) -> Response:
    stored = session.get(SubmissionFile, file_id)
    if stored is None:
        raise HTTPException(status_code=404)
    root = get_settings().effective_storage_dir.resolve()
    path = (root / stored.storage_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(status_code=404)
    media_type = stored.content_type or guess_type(stored.name)[0] or "application/octet-stream"
    return FileResponse(
        path, media_type=media_type, headers={"content-disposition": attachment(stored.name)}
    )
