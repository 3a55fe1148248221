"""The Vietnamese texts dondoc sends a unit: emails (reminders, escalation to its chair,
receipt, return for correction) and the parameter values of Zalo template messages (ZNS). The
office's digest and its Zalo group text are in notifications.digestmessages.

Pure: plain values in, text out; no database, no clock. The wording lives in the Jinja2
templates next to this module (`notifications/templates/`); this module picks the template,
prepares the values it needs and tidies the result (NFC, blank lines, one-line subjects)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, UndefinedError

from dondoc.errors import DondocError
from dondoc.rules.deadlines import format_date_vi, format_deadline_vi, weekday_vi
from dondoc.rules.figures import format_number

SUBJECT_MAX: Final = 119

# Longest value of each ZNS parameter, in characters of the NFC text (Zalo measures characters;
# each registered parameter has a type with its own limit): unit = "customer name" (30),
# deadline and received_at = "time" (20, "23:59 24/11/2015"), days_left = "custom label" (30),
# plan_number and receipt_number = "code" (30), office_phone = "phone" (15), link = URL (200,
# verify on the Official Account: Zalo may refuse a template with a link at all).
ZALO_LIMITS: Final[Mapping[str, int]] = {
    "unit": 30,
    "deadline": 20,
    "days_left": 30,
    "plan_number": 30,
    "office_phone": 15,
    "link": 200,
    "receipt_number": 30,
    "received_at": 20,
    "return_reason": 100,
}
# A cut link or phone number would be wrong, not short: too long, it is left out instead.
_WHOLE_OR_NOTHING: Final = frozenset({"link", "office_phone"})
# Units addressed through their executive committee ("Ban Chấp hành CĐCS …") and chair.
_UNION_PREFIXES: Final = ("cđcs", "công đoàn", "nghiệp đoàn")


class MessageError(DondocError):
    """A message cannot be written from the values given: one it needs is missing, or the
    values contradict the kind of message."""


class Kind(StrEnum):
    BEFORE = "before"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    RECEIPT = "receipt"
    RETURNED = "returned"


KIND_LABELS_VI: Final[Mapping[Kind, str]] = {
    Kind.BEFORE: "Nhắc trước hạn",
    Kind.DUE_TODAY: "Nhắc ngày cuối hạn",
    Kind.OVERDUE: "Nhắc quá hạn",
    Kind.ESCALATION: "Báo lãnh đạo đơn vị",
    Kind.RECEIPT: "Xác nhận đã nhận",
    Kind.RETURNED: "Đề nghị bổ sung",
}
_AFTER_DEADLINE: Final = frozenset({Kind.OVERDUE, Kind.ESCALATION})
# A reminder whose count of working days contradicts its kind would tell a unit something false.
_DAYS_FIT: Final[Mapping[Kind, Callable[[int], bool]]] = {
    Kind.BEFORE: lambda n: n > 0,
    Kind.DUE_TODAY: lambda n: n == 0,
    Kind.OVERDUE: lambda n: n <= 0,
    Kind.ESCALATION: lambda n: n <= 0,
}


@dataclass(frozen=True)
class AttachedFile:
    name: str
    size: int  # bytes


@dataclass(frozen=True)
class MessageContext:
    unit_name: str
    unit_code: str
    requirement_title: str
    issuing_body: str  # "Ban Thường vụ Liên đoàn Lao động quận 1"
    plan_number: str
    plan_title: str
    due_at: datetime  # the assignment's deadline, extension included: first late instant
    working_days_left: int  # at send time: 3 before, 0 on the last day, -2 two days after
    link: str
    office_name: str
    office_phone: str | None
    office_email: str | None
    tz: ZoneInfo
    version: int | None = None
    receipt_number: str | None = None
    return_reason: str | None = None
    received_at: datetime | None = None
    overdue_count: int = 0  # overdue reminders already sent (escalation)
    unit_short_name: str | None = None  # used in Zalo parameters when the name is too long
    files: tuple[AttachedFile, ...] = ()  # receipt
    figures_count: int = 0  # receipt


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def render_email(kind: Kind, ctx: MessageContext) -> Rendered:
    _check_days(kind, ctx.working_days_left)
    return render_pair(str(kind), _email_values(kind, ctx))


def zalo_params(kind: Kind, ctx: MessageContext, *, with_link: bool = True) -> dict[str, str]:
    """Values for the kind's ZNS template: unit, deadline, plan_number, office_phone and link
    (each left out when absent or too long: `with_link=False` for a template approved without
    it), plus days_left (and return_reason for a returned report), or receipt_number and
    received_at for a receipt. NFC, one line, cut to
    ZALO_LIMITS with "…"."""
    _check_days(kind, ctx.working_days_left)
    values = {
        "unit": _zalo_unit(ctx),
        "deadline": _short_moment(_last_minute(ctx.due_at, ctx.tz)),
        "plan_number": ctx.plan_number,
        "office_phone": ctx.office_phone,
        "link": ctx.link if with_link else None,
    } | _zalo_specific(kind, ctx)
    fitted = {key: _fit(key, value) for key, value in values.items()}
    return {key: value for key, value in fitted.items() if value}


def render_pair(name: str, values: Mapping[str, object]) -> Rendered:
    """The subject (one line) and body of the templates `<name>.subject/body.txt.j2`."""
    subject = _render(f"{name}.subject.txt.j2", values)
    return Rendered(_one_line(subject), _tidy(_render(f"{name}.body.txt.j2", values)))


def days_left_vi(kind: Kind, working_days_left: int) -> str:
    """'còn 3 ngày làm việc', 'hôm nay là ngày cuối cùng', 'đã quá hạn 2 ngày làm việc'.
    After a deadline with a time of day, the same day reads 'đã hết hạn'; a returned report is
    not late for the corrected version (the first one counts), so its past deadline reads
    'thời hạn đã qua'."""
    n = working_days_left
    if n > 0:
        return f"còn {n} ngày làm việc"
    if n == 0:
        return "đã hết hạn" if kind in _AFTER_DEADLINE else "hôm nay là ngày cuối cùng"
    return "thời hạn đã qua" if kind is Kind.RETURNED else f"đã quá hạn {-n} ngày làm việc"


def shorten(text: str, limit: int) -> str:
    """NFC, on one line, at most `limit` characters; a cut ends with "…", at a word boundary
    unless that would lose more than half."""
    text = _clean(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    head = cut.rpartition(" ")[0]
    return (head if len(head) >= limit // 2 else cut).rstrip(" ,;:–-") + "…"


def moment_vi(moment: datetime, tz: ZoneInfo) -> str:
    """'16:30 thứ Ba, ngày 24/11/2015'."""
    local = aware(moment).astimezone(tz)
    return f"{local:%H:%M} {weekday_vi(local.date())}, ngày {format_date_vi(local.date())}"


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def days_fit(kind: Kind, n: int) -> bool:
    """Whether a `kind` message may say `n` working days left (a reminder written at send time
    for a step that has gone stale would not)."""
    fits = _DAYS_FIT.get(kind)
    return fits is None or fits(n)


def _check_days(kind: Kind, n: int) -> None:
    if not days_fit(kind, n):
        raise MessageError(f"a {kind} message cannot say {n} working days left")


def _email_values(kind: Kind, ctx: MessageContext) -> dict[str, object]:
    given = {f.name: getattr(ctx, f.name) for f in fields(ctx)}
    # None and blank values stay undefined: a template that uses one fails (StrictUndefined).
    values = {k: v for k, v in given.items() if v is not None and not _blank(v)}
    return values | {
        "union": unicodedata.normalize("NFC", ctx.unit_name).lower().startswith(_UNION_PREFIXES),
        "deadline": format_deadline_vi(ctx.due_at, ctx.tz),
        "days_left": days_left_vi(kind, ctx.working_days_left),
    }


def _blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _zalo_unit(ctx: MessageContext) -> str:
    limit = ZALO_LIMITS["unit"]
    name, short = _clean(ctx.unit_name), _clean(ctx.unit_short_name or "")
    return short if len(name) > limit and 0 < len(short) <= limit else name


def _zalo_specific(kind: Kind, ctx: MessageContext) -> dict[str, str | None]:
    if kind is Kind.RETURNED:
        days = days_left_vi(kind, ctx.working_days_left)
        return {"days_left": days, "return_reason": ctx.return_reason}
    if kind is not Kind.RECEIPT:
        return {"days_left": days_left_vi(kind, ctx.working_days_left)}
    if ctx.receipt_number is None or ctx.received_at is None:
        raise MessageError("a receipt needs its receipt_number and received_at")
    return {
        "receipt_number": ctx.receipt_number,
        "received_at": _short_moment(aware(ctx.received_at).astimezone(ctx.tz)),
    }


def _fit(key: str, value: str | None) -> str | None:
    if value is None:
        return None
    text, limit = _clean(value), ZALO_LIMITS[key]
    if key in _WHOLE_OR_NOTHING:
        return text if len(text) <= limit else None
    return shorten(text, limit)


def _last_minute(due_at: datetime, tz: ZoneInfo) -> datetime:
    # Same reading as format_deadline_vi: local midnight is "23:59" of the day before.
    local = aware(due_at).astimezone(tz)
    return local - timedelta(minutes=1) if local.time() == time(0) else local


def _short_moment(local: datetime) -> str:
    return f"{local:%H:%M} {format_date_vi(local.date())}"


def _deadline_day(due_at: datetime, tz: ZoneInfo) -> str:
    return format_date_vi(_last_minute(due_at, tz).date())


def _date_vi(moment: datetime, tz: ZoneInfo) -> str:
    return format_date_vi(aware(moment).astimezone(tz).date())


def _kilobytes(size: int) -> str:
    return f"{format_number(Decimal(max(1, (size + 1023) // 1024)))} KB"


def aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise MessageError(f"expected an aware datetime, got naive {moment.isoformat()}")
    return moment


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        autoescape=False,  # plain text: "Công ty A & B" must not become "A &amp; B"
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The templates ship with the package: no stat() of their files on every message
        # (a third of the rendering time when planning 66,000 reminders).
        auto_reload=False,
    )
    env.filters |= {
        "deadline": format_deadline_vi,
        "deadline_day": _deadline_day,
        "moment": moment_vi,
        "date_vi": _date_vi,
        "kb": _kilobytes,
        "shorten": shorten,
    }
    return env


def _render(name: str, values: Mapping[str, object]) -> str:
    try:
        return _environment().get_template(name).render(values)
    except UndefinedError as exc:
        raise MessageError(f"{name}: a value it needs was not given ({exc.message})") from exc


def _one_line(subject: str) -> str:
    return shorten(subject, SUBJECT_MAX)


def render_text(name: str, values: Mapping[str, object]) -> str:
    """One template's text, tidied as every message's is."""
    return _tidy(_render(name, values))


def _tidy(text: str) -> str:
    lines = (line.rstrip() for line in unicodedata.normalize("NFC", text).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"
