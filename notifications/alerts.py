"""The office's alerts: something only a person can fix (a Zalo account to re-authorise, a
template Zalo refuses, a channel that is not configured) or the day's Zalo quota spent. Pure:
plain values in, Vietnamese text out; the wording per kind is below, the layout in
templates/alert.*.txt.j2."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from dondoc.labels import CHANNEL_LABELS_VI
from notifications.messages import Rendered, render_pair

# kind: (title, what happened, what to do)
TEXTS: Final[dict[str, tuple[str, str, str]]] = {
    "zalo-quota": (
        "đã hết hạn mức gửi tin Zalo trong ngày",
        "Zalo từ chối gửi thêm tin nhắn vì đã hết hạn mức gửi tin trong ngày của Official "
        "Account hoặc hết số dư tài khoản Zalo Cloud.",
        "Các tin nhắn Zalo chưa gửi được sẽ tự động gửi lại từ 08:00 ngày hôm sau. "
        "Nếu cần gửi sớm hơn, đề nghị nạp thêm số dư hoặc đề nghị Zalo nâng hạn mức.",
    ),
    "zalo-quota-low": (
        "hạn mức gửi tin Zalo trong ngày sắp hết",
        "Hạn mức gửi tin trong ngày của Official Account còn dưới một phần mười; khi hết, "
        "Zalo sẽ từ chối các tin nhắn còn lại trong ngày.",
        "Nếu còn nhiều đơn vị cần nhắc qua Zalo hôm nay, đề nghị nạp thêm số dư hoặc đề nghị "
        "Zalo nâng hạn mức. Tin nhắn không gửi được trong ngày sẽ tự động gửi lại từ 08:00 "
        "ngày hôm sau.",
    ),
    "zalo-account": (
        "tài khoản Zalo cần người xử lý",
        "Zalo từ chối gửi tin nhắn vì tài khoản Official Account hoặc ứng dụng cần người xử "
        "lý (ví dụ: cần cấp quyền lại cho ứng dụng, Official Account chưa được duyệt, chưa "
        "cấu hình mẫu tin).",
        "Đề nghị cán bộ phụ trách kiểm tra tài khoản Zalo Official Account; nếu cần cấp quyền "
        "lại, nhập cặp mã mới bằng lệnh dondoc zalo tokens. Trong thời gian này tin nhắn Zalo "
        "không được gửi.",
    ),
    "zalo-data": (
        "Zalo từ chối nội dung tin nhắn theo mẫu",
        "Zalo từ chối một tin nhắn vì mẫu tin hoặc tham số của mẫu không hợp lệ.",
        "Đề nghị đối chiếu cấu hình mẫu tin Zalo với mẫu đã được Zalo duyệt. Tin nhắn bị từ "
        "chối không được gửi lại tự động.",
    ),
}
_MISSING: Final = (
    "kênh gửi tin chưa được cấu hình",
    "Có tin nhắn cần gửi qua một kênh chưa được cấu hình trên hệ thống.",
    "Đề nghị cán bộ phụ trách kỹ thuật kiểm tra cấu hình hệ thống. Tin nhắn này không được "
    "gửi lại tự động.",
)
_OTHER: Final = (
    "kênh gửi tin cần người xử lý",
    "Một kênh gửi tin báo lỗi mà hệ thống không tự khắc phục được.",
    "Đề nghị cán bộ phụ trách kỹ thuật kiểm tra chi tiết lỗi dưới đây.",
)


@dataclass(frozen=True)
class AlertInput:
    kind: str  # "zalo-quota", "zalo-account", "zalo-data", "<channel>-missing"…
    channel: str
    campaign_title: str
    plan_number: str
    office_name: str
    now: datetime
    tz: ZoneInfo
    code: str | None = None
    error: str | None = None  # already free of personal data (masked phones)


def render_alert(a: AlertInput) -> Rendered:
    title, what, action = TEXTS.get(a.kind) or (_MISSING if a.kind.endswith("-missing") else _OTHER)
    values: dict[str, object] = {
        "title": title,
        "what": what,
        "action": action,
        "channel": CHANNEL_LABELS_VI.get(a.channel, a.channel),
        "campaign_title": a.campaign_title,
        "plan_number": a.plan_number,
        "office_name": a.office_name,
        "now": a.now,
        "tz": a.tz,
    }
    # None stays undefined: the template leaves the line out.
    optional = {"code": a.code, "error": a.error}
    return render_pair("alert", values | {k: v for k, v in optional.items() if v})
