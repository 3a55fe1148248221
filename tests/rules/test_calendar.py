from __future__ import annotations

from datetime import date

import pytest

from dondoc.rules.calendar import DayOverride, WorkingCalendar, WorkWeek

OFFICE = WorkingCalendar()
FACTORY = WorkingCalendar(WorkWeek.MON_SAT)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # The seed plan (domain.md): Fri 20/11/2015 and Tue 24/11/2015, no holiday nearby.
        (date(2015, 11, 20), -3, date(2015, 11, 17)),
        (date(2015, 11, 20), -1, date(2015, 11, 19)),
        (date(2015, 11, 20), 1, date(2015, 11, 23)),
        (date(2015, 11, 24), -3, date(2015, 11, 19)),
        (date(2015, 11, 24), -1, date(2015, 11, 23)),
        (date(2015, 11, 24), 1, date(2015, 11, 25)),
        (date(2015, 11, 24), 3, date(2015, 11, 27)),
        (date(2015, 11, 24), 0, date(2015, 11, 24)),
        (date(2015, 11, 22), 0, date(2015, 11, 22)),  # n == 0 returns d even on a Sunday
        (date(2015, 11, 21), 1, date(2015, 11, 23)),  # d itself is not counted
        (date(2015, 11, 22), -1, date(2015, 11, 20)),
        # Tết 2016: the package has 07/02 (Sun, giao thừa) to 12/02; with the weekends the
        # offices were closed from Sat 06/02 to Sun 14/02.
        (date(2016, 2, 5), 1, date(2016, 2, 15)),
        (date(2016, 2, 15), -1, date(2016, 2, 5)),
        (date(2016, 2, 4), 2, date(2016, 2, 15)),
        # 30/4-1/5/2015: Giỗ Tổ on Tue 28/4, Wed 29/4 off in exchange for Sat 25/4 worked.
        (date(2015, 4, 24), 1, date(2015, 4, 25)),
        (date(2015, 4, 25), 1, date(2015, 4, 27)),
        (date(2015, 4, 27), 1, date(2015, 5, 4)),
        (date(2015, 5, 4), -1, date(2015, 4, 27)),
        # Sat 27/12/2014 was worked to give Fri 02/01/2015 off.
        (date(2014, 12, 26), 1, date(2014, 12, 27)),
        (date(2014, 12, 31), 1, date(2015, 1, 5)),
        (date(2015, 1, 5), -1, date(2014, 12, 31)),
    ],
)
def test_add_working_days_on_a_mon_fri_calendar(start: date, n: int, expected: date) -> None:
    assert OFFICE.add_working_days(start, n) == expected


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2015, 11, 20), True),  # Teachers' Day is not a day off
        (date(2015, 11, 21), False),
        (date(2015, 11, 22), False),
        (date(2014, 12, 27), True),
        (date(2015, 1, 1), False),
        (date(2015, 1, 2), False),
        (date(2015, 4, 25), True),
        (date(2015, 4, 28), False),
        (date(2015, 4, 29), False),
        (date(2015, 4, 30), False),
        (date(2015, 5, 1), False),
        (date(2015, 9, 2), False),
        *((date(2016, 2, day), False) for day in range(6, 15)),
        (date(2016, 2, 5), True),
        (date(2016, 2, 15), True),
        (date(2016, 4, 18), False),  # Giỗ Tổ fell on Sat 16/4: the Monday is off instead
    ],
)
def test_office_working_days(day: date, working: bool) -> None:
    assert OFFICE.is_working_day(day) is working


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2015, 11, 21), True),  # an ordinary Saturday
        (date(2015, 11, 22), False),  # Sundays are still off
        (date(2015, 11, 23), True),
        (date(2016, 4, 16), False),  # Giỗ Tổ on a Saturday
        (date(2016, 4, 30), False),
        (date(2016, 2, 12), False),  # the last day of Tết 2016
        (date(2016, 2, 13), True),  # the Saturday after it is an ordinary one
        (date(2015, 4, 25), True),
        (date(2014, 12, 27), True),
    ],
)
def test_mon_sat_units_work_saturdays_but_not_sundays_or_holidays(day: date, working: bool) -> None:
    assert FACTORY.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2015, 11, 20), 1, date(2015, 11, 21)),
        (date(2015, 11, 21), 1, date(2015, 11, 23)),
        (date(2015, 11, 24), -3, date(2015, 11, 20)),
        (date(2016, 4, 15), 1, date(2016, 4, 19)),
    ],
)
def test_add_working_days_on_a_mon_sat_calendar(start: date, n: int, expected: date) -> None:
    assert FACTORY.add_working_days(start, n) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2015, 11, 24), date(2015, 11, 24)),
        (date(2015, 11, 21), date(2015, 11, 23)),
        (date(2016, 2, 8), date(2016, 2, 15)),
        (date(2015, 4, 28), date(2015, 5, 4)),
        (date(2015, 1, 1), date(2015, 1, 5)),
    ],
)
def test_next_working_day_moves_a_closed_day_forward(day: date, expected: date) -> None:
    assert OFFICE.next_working_day(day) == expected


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        (date(2015, 11, 20), date(2015, 11, 20), 0),
        (date(2015, 11, 20), date(2015, 11, 23), 1),
        (date(2015, 11, 20), date(2015, 11, 24), 2),
        (date(2015, 11, 17), date(2015, 11, 20), 3),
        (date(2015, 11, 24), date(2015, 11, 27), 3),
        (date(2015, 11, 23), date(2015, 11, 20), -1),
        (date(2015, 11, 27), date(2015, 11, 24), -3),
        (date(2016, 2, 5), date(2016, 2, 15), 1),
        (date(2015, 4, 24), date(2015, 5, 4), 3),  # Sat 25/4, Mon 27/4, Mon 4/5
    ],
)
def test_working_days_between_counts_the_half_open_span(start: date, end: date, count: int) -> None:
    assert OFFICE.working_days_between(start, end) == count


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2016, 2, 8), "Tết Nguyên Đán"),
        (date(2015, 4, 30), "Ngày Chiến thắng"),
        (date(2015, 5, 1), "Ngày Quốc tế Lao động"),
        (date(2015, 9, 2), "Quốc khánh"),
        (date(2015, 11, 20), None),
        (date(2015, 11, 22), None),  # a Sunday is not a holiday
        (date(2014, 12, 27), None),
    ],
)
def test_holiday_name(day: date, name: str | None) -> None:
    assert OFFICE.holiday_name(day) == name


def test_a_substituted_day_off_names_the_saturday_worked_for_it() -> None:
    name = OFFICE.holiday_name(date(2015, 1, 2))
    assert name is not None
    assert "27/12/2014" in name


SWAPPED = WorkingCalendar(
    overrides=[
        DayOverride(date(2015, 11, 21), working=True, note="làm bù"),
        DayOverride(date(2015, 11, 23), working=False, note="Nghỉ bù Ngày Nhà giáo"),
        DayOverride(date(2015, 11, 25), working=False),
        DayOverride(date(2015, 9, 2), working=True, note="trực"),
    ]
)


@pytest.mark.parametrize(
    ("day", "working", "name"),
    [
        (date(2015, 11, 21), True, None),
        (date(2015, 11, 23), False, "Nghỉ bù Ngày Nhà giáo"),
        (date(2015, 11, 25), False, "Ngày nghỉ"),
        (date(2015, 9, 2), True, None),  # an override wins over a public holiday
        (date(2015, 11, 24), True, None),
    ],
)
def test_overrides_win_over_the_week_and_the_holidays(
    day: date, working: bool, name: str | None
) -> None:
    assert SWAPPED.is_working_day(day) is working
    assert SWAPPED.holiday_name(day) == name


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2015, 11, 20), 1, date(2015, 11, 21)),
        (date(2015, 11, 20), 2, date(2015, 11, 24)),
        (date(2015, 11, 24), 1, date(2015, 11, 26)),
        (date(2015, 11, 26), -2, date(2015, 11, 21)),
    ],
)
def test_add_working_days_follows_the_overrides(start: date, n: int, expected: date) -> None:
    assert SWAPPED.add_working_days(start, n) == expected


def test_an_identical_override_given_twice_is_accepted() -> None:
    day_off = DayOverride(date(2015, 11, 23), working=False)
    assert not WorkingCalendar(overrides=[day_off, day_off]).is_working_day(date(2015, 11, 23))


def test_two_conflicting_overrides_for_one_day_are_refused() -> None:
    with pytest.raises(ValueError, match="two different overrides for 2015-11-23"):
        WorkingCalendar(
            overrides=[
                DayOverride(date(2015, 11, 23), working=False),
                DayOverride(date(2015, 11, 23), working=True),
            ]
        )


def test_the_week_can_be_given_as_its_stored_value() -> None:
    calendar = WorkingCalendar(WorkWeek("mon_sat"))
    assert calendar.week is WorkWeek.MON_SAT
    assert calendar.is_working_day(date(2015, 11, 21))
