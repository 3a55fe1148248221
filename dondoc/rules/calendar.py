"""Working days of an organisation: Vietnamese public holidays, make-up Saturdays, the unit's
own working week and the swap days an administrator enters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

import holidays

_ONE_DAY = timedelta(days=1)


class WorkWeek(StrEnum):
    MON_FRI = "mon_fri"
    MON_SAT = "mon_sat"


# date.weekday(): Monday is 0, Saturday 5.
_WORKING_WEEKDAYS = {WorkWeek.MON_FRI: range(5), WorkWeek.MON_SAT: range(6)}


@dataclass(frozen=True)
class DayOverride:
    day: date
    working: bool
    note: str = ""


@dataclass(frozen=True)
class _PublicCalendar:
    holidays: Mapping[date, str]
    worked_weekends: frozenset[date]


@lru_cache(maxsize=32)
def _public_calendar(year: int) -> _PublicCalendar:
    # The adjacent years too: Sat 27/12/2014 was worked to make Fri 02/01/2015 a day off, and
    # the package lists such a Saturday with the holiday it pays for.
    days = holidays.country_holidays("VN", years=(year - 1, year, year + 1), language="vi")
    return _PublicCalendar(dict(days), frozenset(days.weekend_workdays))


class WorkingCalendar:
    def __init__(
        self, week: WorkWeek = WorkWeek.MON_FRI, overrides: Iterable[DayOverride] = ()
    ) -> None:
        self.week = WorkWeek(week)
        self._overrides: dict[date, DayOverride] = {}
        for override in overrides:
            known = self._overrides.setdefault(override.day, override)
            if known != override:
                raise ValueError(f"two different overrides for {override.day.isoformat()}")

    def is_working_day(self, d: date) -> bool:
        # An administrator's override wins: the government announces swap days every year.
        if d in self._overrides:
            return self._overrides[d].working
        public = _public_calendar(d.year)
        if d in public.holidays:
            return False
        if d in public.worked_weekends:
            return True
        return d.weekday() in _WORKING_WEEKDAYS[self.week]

    def holiday_name(self, d: date) -> str | None:
        override = self._overrides.get(d)
        if override is not None:
            return None if override.working else (override.note or "Ngày nghỉ")
        return _public_calendar(d.year).holidays.get(d)

    def add_working_days(self, d: date, n: int) -> date:
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        for _ in range(abs(n)):
            d += step
            while not self.is_working_day(d):
                d += step
        return d

    def next_working_day(self, d: date) -> date:
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative, counting (end, start], when end < start."""
        if end < start:
            return -self.working_days_between(end, start)
        span = (end - start).days
        return sum(self.is_working_day(start + _ONE_DAY * i) for i in range(1, span + 1))
