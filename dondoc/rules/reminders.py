"""When to remind a unit about one deadline, and whether to remind it at all.

Pure rules: no database, no clock; every function takes the instant it decides for. The caller
builds one WorkingCalendar per unit (its working week, the public holidays, the swap days).

A plan belongs to one deadline *version* (`due_at`: the first instant at which a report is late).
An extension makes a new version, and plan_steps gives it a fresh set of steps. Their keys
("before-3", "due", "overdue-1"…) repeat from one version to the next on purpose: the caller
stores each reminder under (assignment, deadline version, key), so what was sent for the old
deadline neither blocks nor duplicates the steps of the new one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dondoc.rules.calendar import WorkingCalendar
from dondoc.rules.status import Status, is_submitted

MAX_BEFORE_DAYS = 30
MAX_OVERDUE_EVERY = 30
MAX_OVERDUE = 10

_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)
_CLOCK = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


# Checked when a policy is built, so DEFAULT_POLICY below needs them first.
def _check_before_days(days: tuple[int, ...]) -> None:
    for n in days:
        _check_range("before_days", n, 1, MAX_BEFORE_DAYS, "working days before the deadline")
    if len(set(days)) != len(days):
        raise ValueError(f"before_days lists a day twice: {list(days)}")


def _check_range(name: str, value: int, low: int, high: int, what: str) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high} {what}, got {value}")


def _check_window(send_at: time, start: time, end: time) -> None:
    for name, clock in (("send_at", send_at), ("window_start", start), ("window_end", end)):
        if clock.tzinfo is not None or clock.second or clock.microsecond:
            raise ValueError(f"{name} must be a local time in whole minutes, got {clock}")
    if end <= start:
        raise ValueError(
            f"window_end ({end:%H:%M}) must be later than window_start ({start:%H:%M})"
        )
    if not start <= send_at < end:
        raise ValueError(
            f"send_at ({send_at:%H:%M}) must be inside the send window [{start:%H:%M}, {end:%H:%M})"
        )


class StepKind(StrEnum):
    BEFORE = "before"
    DUE_DAY = "due_day"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class ReminderPolicy:
    before_days: tuple[int, ...] = (3, 1)  # working days before the deadline day (T−3, T−1)
    on_due_day: bool = True  # the morning of the deadline day
    overdue_every: int = 2  # working days between overdue reminders
    overdue_max: int = 3
    send_at: time = time(8, 0)  # local time of day for every step
    window_start: time = time(7, 30)  # nothing is sent outside [start, end) local
    window_end: time = time(17, 0)
    escalate_after: int = 2  # from the k-th overdue reminder on: also the chair and the digest

    def __post_init__(self) -> None:
        _check_before_days(self.before_days)
        # Earliest first whatever order the plan file used, so equal policies compare equal.
        object.__setattr__(self, "before_days", tuple(sorted(self.before_days, reverse=True)))
        _check_range("overdue_every", self.overdue_every, 1, MAX_OVERDUE_EVERY, "working days")
        _check_range("overdue_max", self.overdue_max, 0, MAX_OVERDUE, "overdue reminders")
        if self.escalate_after < 1:
            raise ValueError(
                f"escalate_after must be at least 1 (the first overdue reminder), got "
                f"{self.escalate_after}; set it above overdue_max to never escalate"
            )
        _check_window(self.send_at, self.window_start, self.window_end)

    def to_json(self) -> dict[str, object]:
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, data: object) -> ReminderPolicy:
        """Missing fields take the default; unknown ones are an error (a typo in a plan file
        must not silently fall back to the default)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a reminder policy must be a JSON object, got {data!r}")
        values = {**cls().to_json(), **data}
        unknown = sorted(set(map(str, values)) - {f.name for f in fields(cls)})
        if unknown:
            expected = ", ".join(f.name for f in fields(cls))
            raise ValueError(
                f"unknown reminder policy field {', '.join(unknown)}; expected {expected}"
            )
        return cls(
            before_days=_parse_days(values["before_days"]),
            on_due_day=_parse_flag("on_due_day", values["on_due_day"]),
            overdue_every=_parse_whole("overdue_every", values["overdue_every"]),
            overdue_max=_parse_whole("overdue_max", values["overdue_max"]),
            send_at=_parse_clock("send_at", values["send_at"]),
            window_start=_parse_clock("window_start", values["window_start"]),
            window_end=_parse_clock("window_end", values["window_end"]),
            escalate_after=_parse_whole("escalate_after", values["escalate_after"]),
        )


DEFAULT_POLICY = ReminderPolicy()


@dataclass(frozen=True)
class Step:
    key: str  # "before-3", "due", "overdue-2"…: stable within a deadline version
    kind: StepKind
    number: int  # working days for BEFORE, ordinal for OVERDUE, 0 for DUE_DAY
    at: datetime  # aware UTC: when it may go out, already moved to an allowed moment
    escalate: bool


class Skip(StrEnum):
    SUBMITTED = "submitted"
    EXEMPT = "exempt"
    NO_CONTACT = "no_contact"
    NOT_DUE = "not_due"
    CLOSED = "closed"


SKIP_LABELS_VI: dict[Skip, str] = {
    Skip.SUBMITTED: "Đã nộp báo cáo",
    Skip.EXEMPT: "Miễn nộp",
    Skip.NO_CONTACT: "Chưa có thông tin liên hệ",
    Skip.NOT_DUE: "Chưa đến lượt nhắc",
    Skip.CLOSED: "Đã hết hạn tiếp nhận",
}


def deadline_day(due_at: datetime, tz: ZoneInfo) -> date:
    """The local day a deadline belongs to: `due_at` is the first late instant, so "đến hết
    ngày 24/11" (due_at 25/11 00:00 local) belongs to the 24th."""
    return (_require_aware(due_at) - _ONE_MICROSECOND).astimezone(tz).date()


def plan_steps(
    policy: ReminderPolicy, due_at: datetime, calendar: WorkingCalendar, tz: ZoneInfo
) -> list[Step]:
    planned = _natural_days(policy, deadline_day(due_at, tz), calendar)
    steps = [_step(policy, kind, number, d, calendar, tz) for kind, number, d in planned]
    # A reminder of the coming deadline is pointless once it has passed: a deadline at 07:00
    # leaves no room for a "due today" at 08:00.
    kept = [s for s in steps if s.kind is StepKind.OVERDUE or s.at < due_at]
    return sorted(kept, key=lambda s: s.at)


def next_allowed(
    moment: datetime, policy: ReminderPolicy, calendar: WorkingCalendar, tz: ZoneInfo
) -> datetime:
    """`moment` (in UTC) if a reminder may go out then, else the next window opening on one
    of the unit's working days."""
    local = _require_aware(moment).astimezone(tz)
    day, clock = local.date(), local.time()
    if calendar.is_working_day(day):
        if policy.window_start <= clock < policy.window_end:
            return local.astimezone(UTC)
        if clock < policy.window_start:
            return _local_moment(day, policy.window_start, tz)
    return _local_moment(calendar.next_working_day(day + _ONE_DAY), policy.window_start, tz)


def due_step(
    policy: ReminderPolicy,
    due_at: datetime,
    calendar: WorkingCalendar,
    tz: ZoneInfo,
    now: datetime,
    sent: Collection[str],
) -> Step | None:
    """The one step to send at `now` for this deadline version, given the keys already sent
    for it. Only the latest step due is a candidate: after downtime the older ones are stale
    and dropped, never sent in a burst, and never sent after a later one has gone out."""
    if next_allowed(now, policy, calendar, tz) != now:
        return None  # quiet hours or a day off: the step waits for the next allowed moment
    step = latest_step(policy, due_at, calendar, tz, now)
    return None if step is None or step.key in sent else step


def latest_step(
    policy: ReminderPolicy, due_at: datetime, calendar: WorkingCalendar, tz: ZoneInfo,
    now: datetime,
) -> Step | None:  # fmt: skip
    """The latest step whose time has come; a row of any other step is stale at `now`."""
    # Once the deadline has passed, "còn 1 ngày" or "hạn chót hôm nay" would be false.
    due = [
        s
        for s in plan_steps(policy, due_at, calendar, tz)
        if s.at <= now and (now < due_at or s.kind is StepKind.OVERDUE)
    ]
    return due[-1] if due else None


def eligibility(status: Status, *, has_contact: bool, closed: bool) -> Skip | None:
    """None: remind. Re-checked at the moment of sending, with the status as of then."""
    status = Status(status)
    if status is Status.EXEMPT:
        return Skip.EXEMPT
    if is_submitted(status):  # on time or late; RETURNED still owes a corrected report
        return Skip.SUBMITTED
    if closed:
        return Skip.CLOSED
    if not has_contact:
        return Skip.NO_CONTACT
    return None


def working_days_left(
    due_at: datetime, now: datetime, calendar: WorkingCalendar, tz: ZoneInfo
) -> int:
    """Working days after today up to and including the deadline day: 0 on the day (or on
    the last working day before a deadline that falls on a day off), −(working days late)
    after it."""
    today = _require_aware(now).astimezone(tz).date()
    return calendar.working_days_between(today, deadline_day(due_at, tz))


def _natural_days(
    policy: ReminderPolicy, day: date, calendar: WorkingCalendar
) -> Iterator[tuple[StepKind, int, date]]:
    # A deadline on a day the unit does not work (a Sunday, Tết) gets its "due today" step on
    # the last working day before it. The "before" steps count back from that day too, so
    # before-N goes out when N working days are left (working_days_left), as its message says.
    last_day = day if calendar.is_working_day(day) else calendar.add_working_days(day, -1)
    for n in policy.before_days:
        yield StepKind.BEFORE, n, calendar.add_working_days(last_day, -n)
    if policy.on_due_day:
        yield StepKind.DUE_DAY, 0, last_day
    for k in range(1, policy.overdue_max + 1):
        day = calendar.add_working_days(day, policy.overdue_every)
        yield StepKind.OVERDUE, k, day


def _step(
    policy: ReminderPolicy,
    kind: StepKind,
    number: int,
    day: date,
    calendar: WorkingCalendar,
    tz: ZoneInfo,
) -> Step:
    at = next_allowed(_local_moment(day, policy.send_at, tz), policy, calendar, tz)
    key = "due" if kind is StepKind.DUE_DAY else f"{kind}-{number}"
    escalate = kind is StepKind.OVERDUE and number >= policy.escalate_after
    return Step(key=key, kind=kind, number=number, at=at, escalate=escalate)


def _local_moment(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def _json_value(value: object) -> object:
    if isinstance(value, time):
        return f"{value:%H:%M}"
    return list(value) if isinstance(value, tuple) else value


def _parse_days(value: object) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"before_days must be a list of working days like [3, 1], got {value!r}")
    return tuple(_parse_whole("before_days", n) for n in value)


def _parse_whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return value


def _parse_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _parse_clock(name: str, value: object) -> time:
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        # YAML 1.1 reads an unquoted 08:00 as the number 480.
        raise ValueError(
            f'{name} must be a time of day like "08:00" (quoted in YAML), got {value!r}'
        )
    return time(int(match[1]), int(match[2]))


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {moment.isoformat()}")
    return moment
