"""Jinja2 templates with the filters every page uses (Vietnamese dates, statuses, numbers)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates

from dondoc.labels import CHANNEL_LABELS_VI
from dondoc.privacy import mask_contact
from dondoc.rules.deadlines import format_deadline_vi, weekday_vi
from dondoc.rules.figures import format_number
from dondoc.rules.status import REVIEW_LABELS_VI, STATUS_LABELS_VI, ReviewState, Status
from dondoc.settings import get_settings

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _tz() -> ZoneInfo:
    return get_settings().tz


def vn_deadline(moment: datetime) -> str:
    """'23:59 thứ Ba, ngày 24/11/2015'."""
    return format_deadline_vi(moment, _tz())


def vn_datetime(moment: datetime | None) -> str:
    """'16:30 thứ Ba, ngày 24/11/2015' (a moment, not a deadline)."""
    if moment is None:
        return "—"
    local = moment.astimezone(_tz())
    return f"{local:%H:%M} {weekday_vi(local.date())}, ngày {local:%d/%m/%Y}"


def vn_date(moment: datetime) -> str:
    local = moment.astimezone(_tz())
    if (local.hour, local.minute) == (0, 0):
        local -= timedelta(minutes=1)
    return f"{local:%d/%m/%Y}"


def vn_number(value: Decimal | int | float | None) -> str:
    return "—" if value is None else format_number(Decimal(value))


def vn_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB".replace(".", ",")
    return f"{max(1, size // 1024)} KB"


DELIVERY_STATES_VI = {
    "pending": "Chờ gửi",
    "claimed": "Đang xử lý",
    "sending": "Đang gửi",
    "sent": "Đã gửi",
    "failed": "Không gửi được",
    "unknown": "Chưa rõ kết quả — cần kiểm tra",
    "skipped": "Không gửi (không còn cần)",
    "cancelled": "Đã hủy",
}
STEP_LABELS_VI = {"before": "Nhắc trước hạn", "due_today": "Nhắc ngày hết hạn",
                  "overdue": "Nhắc quá hạn", "escalation": "Báo Chủ tịch",
                  "receipt": "Xác nhận đã nhận", "returned": "Đề nghị bổ sung"}  # fmt: skip


def status_label(status: str) -> str:
    return STATUS_LABELS_VI[Status(status)]


def review_label(state: str) -> str:
    return REVIEW_LABELS_VI[ReviewState(state)]


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    # Templates change only with a new release: no file checks on every page.
    templates.env.auto_reload = False
    templates.env.filters.update(
        vn_deadline=vn_deadline,
        vn_datetime=vn_datetime,
        vn_date=vn_date,
        vn_number=vn_number,
        vn_size=vn_size,
        status_label=status_label,
        delivery_state=lambda s: DELIVERY_STATES_VI.get(s, s),
        step_label=lambda k: STEP_LABELS_VI.get(k, k),
        masked=mask_contact,
        review_label=review_label,
        channel_label=lambda c: CHANNEL_LABELS_VI.get(c, c),
    )
    return templates
