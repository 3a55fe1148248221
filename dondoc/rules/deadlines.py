"""Deadlines and dates as plans write them ("đến hết ngày thứ ba 24/11/2015"), and back."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

DEADLINE_EXPECTED = (
    "expected a deadline like 'đến hết ngày 20/11/2015', 'thứ Ba, ngày 24/11/2015', "
    "'chậm nhất ngày 20/11/2015', 'trước 16 giờ 00 ngày 20/11/2015', '20/11/2015 16:00' "
    "or 'trước ngày 20/11/2015'"
)
DATE_EXPECTED = "expected a date like 24/11/2015 or 2015-11-24"
DATETIME_EXPECTED = "expected a date and time like 25/11/2015 09:00 or 2015-11-25 09:00"

_WEEKDAYS_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Offices write the weekday in words, as "thứ 3", or as "T3"; Monday is "thứ hai" (the second day).
_WEEKDAY_WORDS = {
    **{name.lower(): i for i, name in enumerate(_WEEKDAYS_VI)},
    **{f"thứ {i + 2}": i for i in range(6)},
    **{f"t{i + 2}": i for i in range(6)},
    "thứ bẩy": 5,
    "cn": 6,
}
_WEEKDAY = "|".join(sorted(_WEEKDAY_WORDS, key=len, reverse=True))
_TIME = r"[0-9]{1,2}(?: ?(?:giờ|h|g)(?: ?[0-9]{1,2}(?: ?phút)?)?|:[0-9]{2})"
_DATE = r"[0-9][0-9/.\-]*[0-9]"
_DEADLINE = re.compile(
    rf"^(?:từ nay )?(?:(?P<lead>đến hết|chậm nhất(?: là)?|trước) )?"
    rf"(?:(?:lúc )?(?P<t1>{_TIME}) )?(?:ngày )?(?:(?P<wd>{_WEEKDAY}) )?(?:ngày )?"
    rf"(?P<date>{_DATE})(?: (?:lúc )?(?P<t2>{_TIME}))?$"
)
_DATETIME = re.compile(
    rf"^(?:(?P<t1>{_TIME}) (?:ngày )?)?(?P<date>{_DATE})(?: (?:lúc )?(?P<t2>{_TIME}))?$"
)
_TIME_PARTS = re.compile(
    r"^(?P<h>[0-9]{1,2})(?: ?(?:giờ|h|g)(?: ?(?P<m>[0-9]{1,2})(?: ?phút)?)?|:(?P<m2>[0-9]{2}))$"
)
_DMY = re.compile(r"^(?P<d>[0-9]{1,2})/(?P<m>[0-9]{1,2})/(?P<y>[0-9]{4})$")
_YMD = re.compile(r"^(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})$")
# Only a full ISO date-time goes to fromisoformat, which also honours an explicit offset.
_ISO_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")


class DeadlineError(ValueError):
    pass


@dataclass(frozen=True)
class Deadline:
    day: dt.date
    time: dt.time | None
    text: str
    warning: str | None = None

    def ends_at(self, tz: ZoneInfo = VN_TZ) -> dt.datetime:
        """Aware UTC datetime: the first instant at which a submission is late.
        End of day: local midnight starting day+1. With a time: that local time."""
        if self.time is None:
            local = dt.datetime.combine(self.day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        else:
            local = dt.datetime.combine(self.day, self.time, tzinfo=tz)
        return local.astimezone(dt.UTC)


def parse_deadline(text: str) -> Deadline:
    written = _collapse(text)
    match = _DEADLINE.match(_for_matching(written))
    if not match or _contradicts_itself(match):
        raise DeadlineError(DEADLINE_EXPECTED)
    day = parse_local_date(match["date"])
    if match["wd"]:
        _check_weekday(day, _WEEKDAY_WORDS[match["wd"]])
    clock = _parse_time(match["t1"] or match["t2"]) if _has_time(match) else None
    if match["lead"] == "trước" and clock is None:
        return Deadline(day - dt.timedelta(days=1), None, written, _before_day_warning(day))
    return Deadline(day, clock, written)


def parse_local_date(text: str) -> dt.date:
    value = unicodedata.normalize("NFC", text).strip()
    match = _DMY.match(value) or _YMD.match(value)
    if not match:
        raise DeadlineError(f"{DATE_EXPECTED}, got {value!r}")
    try:
        return dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        raise DeadlineError(f"there is no such day as {value}") from None


def parse_local_datetime(text: str, tz: ZoneInfo = VN_TZ) -> dt.datetime:
    value = _collapse(text)
    if _ISO_DATETIME.match(value):
        return _from_iso(value, tz)
    match = _DATETIME.match(value.lower())
    if not match or (match["t1"] and match["t2"]):
        raise DeadlineError(f"{DATETIME_EXPECTED}, got {value!r}")
    day = parse_local_date(match["date"])
    clock = _parse_time(match["t1"] or match["t2"]) if _has_time(match) else dt.time(0)
    return dt.datetime.combine(day, clock, tzinfo=tz).astimezone(dt.UTC)


def weekday_vi(d: dt.date) -> str:
    return _WEEKDAYS_VI[d.weekday()]


def format_deadline_vi(ends_at: dt.datetime, tz: ZoneInfo = VN_TZ) -> str:
    local = _require_aware(ends_at).astimezone(tz)
    if local.time() == dt.time(0):
        # People read "until the end of the 24th", not "until 00:00 on the 25th".
        return f"23:59 {_day_vi(local.date() - dt.timedelta(days=1))}"
    return f"{local:%H:%M} {_day_vi(local.date())}"


def format_date_line(place: str, d: dt.date) -> str:
    # Decree 30/2020: days below 10 and months 1-2 take a leading zero, other months none.
    month = f"{d.month:02d}" if d.month <= 2 else str(d.month)
    place = unicodedata.normalize("NFC", place).strip()
    return f"{place}, ngày {d.day:02d} tháng {month} năm {d.year}"


def format_date_vi(d: dt.date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def _collapse(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _for_matching(written: str) -> str:
    # Commas ("thứ Ba, ngày …") and a closing full stop carry no meaning here.
    return " ".join(written.replace(",", " ").split()).rstrip(".;").lower()


def _has_time(match: re.Match[str]) -> bool:
    return bool(match["t1"] or match["t2"])


def _contradicts_itself(match: re.Match[str]) -> bool:
    # Two times, or "đến hết" (the whole day) with a time of day.
    return bool(match["t1"] and match["t2"]) or (match["lead"] == "đến hết" and _has_time(match))


def _parse_time(text: str) -> dt.time:
    match = _TIME_PARTS.match(text)
    if not match:
        raise DeadlineError(f"expected a time of day like 16:00, 16h00 or 16 giờ 00, got {text!r}")
    hour, minute = int(match["h"]), int(match["m"] or match["m2"] or 0)
    if hour > 23 or minute > 59:
        raise DeadlineError(f"there is no such time of day as {text}")
    return dt.time(hour, minute)


def _check_weekday(day: dt.date, written: int) -> None:
    actual = day.weekday()
    if actual != written:
        raise DeadlineError(
            f"{format_date_vi(day)} is a {_WEEKDAYS_EN[actual]} ({_WEEKDAYS_VI[actual]}), "
            f"not {_WEEKDAYS_VI[written]}"
        )


def _before_day_warning(day: dt.date) -> str:
    last = day - dt.timedelta(days=1)
    return (
        f"'trước ngày {format_date_vi(day)}' is read literally: on time until the end of "
        f"{format_date_vi(last)}; write 'đến hết ngày {format_date_vi(day)}' "
        f"if {format_date_vi(day)} itself is allowed"
    )


def _from_iso(value: str, tz: ZoneInfo) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise DeadlineError(f"{DATETIME_EXPECTED}, got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(dt.UTC)


def _require_aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {moment.isoformat()}")
    return moment


def _day_vi(d: dt.date) -> str:
    return f"{weekday_vi(d)}, ngày {format_date_vi(d)}"
