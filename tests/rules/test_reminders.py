from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest

from dondoc.rules.calendar import DayOverride, WorkingCalendar, WorkWeek
from dondoc.rules.deadlines import VN_TZ
from dondoc.rules.reminders import (
    DEFAULT_POLICY,
    SKIP_LABELS_VI,
    ReminderPolicy,
    Skip,
    Step,
    StepKind,
    deadline_day,
    due_step,
    eligibility,
    next_allowed,
    plan_steps,
    working_days_left,
)
from dondoc.rules.status import ReviewState, Status, assignment_status, effective_due

OFFICE = WorkingCalendar()
FACTORY = WorkingCalendar(WorkWeek.MON_SAT)
SAT_WORKED = WorkingCalendar(overrides=[DayOverride(date(2015, 11, 21), True, "làm bù")])
MON_OFF = WorkingCalendar(overrides=[DayOverride(date(2015, 11, 23), False, "nghỉ bù")])
TUE_OFF = WorkingCalendar(overrides=[DayOverride(date(2015, 11, 24), False, "nghỉ bù")])

EVERY_DAY = ReminderPolicy(overdue_every=1)
AFTERNOON = ReminderPolicy(
    before_days=(2,),
    on_due_day=False,
    overdue_max=0,
    send_at=time(14, 0),
    window_start=time(13, 0),
    window_end=time(16, 0),
)
SILENT = ReminderPolicy(before_days=(), on_due_day=False, overdue_max=0)


def local(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN_TZ)


def end_of(y: int, m: int, d: int) -> datetime:
    """due_at for "đến hết ngày d/m/y": local midnight starting the next day, in UTC."""
    return datetime.combine(date(y, m, d) + timedelta(days=1), time(0), tzinfo=VN_TZ).astimezone(
        UTC
    )


SEED = end_of(2015, 11, 20)  # Fri 20/11/2015
DUE_24 = end_of(2015, 11, 24)  # Tue 24/11/2015
ALL_BEFORE = frozenset({"before-3", "before-1", "due"})


def shown(step: Step) -> str:
    text = f"{step.key} {step.at.astimezone(VN_TZ):%a %d/%m/%Y %H:%M}"
    return f"{text} escalate" if step.escalate else text


PLANS = [
    # id, policy, calendar, due_at, steps as "key local-time [escalate]"
    (
        "seed: end of Fri 20/11/2015, default policy",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        [
            "before-3 Tue 17/11/2015 08:00",
            "before-1 Thu 19/11/2015 08:00",
            "due Fri 20/11/2015 08:00",
            "overdue-1 Tue 24/11/2015 08:00",
            "overdue-2 Thu 26/11/2015 08:00 escalate",
            "overdue-3 Mon 30/11/2015 08:00 escalate",
        ],
    ),
    (
        "seed with overdue every working day: D+1 is Mon 23/11",
        EVERY_DAY,
        OFFICE,
        SEED,
        [
            "before-3 Tue 17/11/2015 08:00",
            "before-1 Thu 19/11/2015 08:00",
            "due Fri 20/11/2015 08:00",
            "overdue-1 Mon 23/11/2015 08:00",
            "overdue-2 Tue 24/11/2015 08:00 escalate",
            "overdue-3 Wed 25/11/2015 08:00 escalate",
        ],
    ),
    (
        "end of Tue 24/11/2015: T-3 Thu 19/11, T-1 Mon 23/11, D+1 Wed 25/11, D+3 Fri 27/11",
        EVERY_DAY,
        OFFICE,
        DUE_24,
        [
            "before-3 Thu 19/11/2015 08:00",
            "before-1 Mon 23/11/2015 08:00",
            "due Tue 24/11/2015 08:00",
            "overdue-1 Wed 25/11/2015 08:00",
            "overdue-2 Thu 26/11/2015 08:00 escalate",
            "overdue-3 Fri 27/11/2015 08:00 escalate",
        ],
    ),
    (
        "end of Tue 24/11/2015, default policy: overdue at D+2, D+4, D+6",
        DEFAULT_POLICY,
        OFFICE,
        DUE_24,
        [
            "before-3 Thu 19/11/2015 08:00",
            "before-1 Mon 23/11/2015 08:00",
            "due Tue 24/11/2015 08:00",
            "overdue-1 Thu 26/11/2015 08:00",
            "overdue-2 Mon 30/11/2015 08:00 escalate",
            "overdue-3 Wed 02/12/2015 08:00 escalate",
        ],
    ),
    (
        "just after Tết 2016 (off Sat 06/02 to Sun 14/02): T-1 is Fri 05/02",
        EVERY_DAY,
        OFFICE,
        end_of(2016, 2, 15),
        [
            "before-3 Wed 03/02/2016 08:00",
            "before-1 Fri 05/02/2016 08:00",
            "due Mon 15/02/2016 08:00",
            "overdue-1 Tue 16/02/2016 08:00",
            "overdue-2 Wed 17/02/2016 08:00 escalate",
            "overdue-3 Thu 18/02/2016 08:00 escalate",
        ],
    ),
    (
        "just before Tết 2016: nothing during the break, D+1 is Mon 15/02",
        EVERY_DAY,
        OFFICE,
        end_of(2016, 2, 5),
        [
            "before-3 Tue 02/02/2016 08:00",
            "before-1 Thu 04/02/2016 08:00",
            "due Fri 05/02/2016 08:00",
            "overdue-1 Mon 15/02/2016 08:00",
            "overdue-2 Tue 16/02/2016 08:00 escalate",
            "overdue-3 Wed 17/02/2016 08:00 escalate",
        ],
    ),
    (
        "deadline inside Tết 2016 (Wed 10/02): the due-day step on the last working day before",
        EVERY_DAY,
        OFFICE,
        end_of(2016, 2, 10),
        [
            "before-3 Tue 02/02/2016 08:00",
            "before-1 Thu 04/02/2016 08:00",
            "due Fri 05/02/2016 08:00",
            "overdue-1 Mon 15/02/2016 08:00",
            "overdue-2 Tue 16/02/2016 08:00 escalate",
            "overdue-3 Wed 17/02/2016 08:00 escalate",
        ],
    ),
    (
        "after 30/4-1/5/2015: Sat 25/04 worked, Tue 28/04 to Sun 03/05 off",
        ReminderPolicy(before_days=(3, 2, 1), overdue_every=1),
        OFFICE,
        end_of(2015, 5, 4),
        [
            "before-3 Fri 24/04/2015 08:00",
            "before-2 Sat 25/04/2015 08:00",
            "before-1 Mon 27/04/2015 08:00",
            "due Mon 04/05/2015 08:00",
            "overdue-1 Tue 05/05/2015 08:00",
            "overdue-2 Wed 06/05/2015 08:00 escalate",
            "overdue-3 Thu 07/05/2015 08:00 escalate",
        ],
    ),
    (
        "deadline on the 2015 make-up day off Wed 29/04: due-day step on Mon 27/04",
        EVERY_DAY,
        OFFICE,
        end_of(2015, 4, 29),
        [
            "before-3 Thu 23/04/2015 08:00",
            "before-1 Sat 25/04/2015 08:00",
            "due Mon 27/04/2015 08:00",
            "overdue-1 Mon 04/05/2015 08:00",
            "overdue-2 Tue 05/05/2015 08:00 escalate",
            "overdue-3 Wed 06/05/2015 08:00 escalate",
        ],
    ),
    (
        "overdue on the worked Saturday 25/04/2015",
        ReminderPolicy(before_days=(), on_due_day=False, overdue_every=1, overdue_max=2),
        OFFICE,
        end_of(2015, 4, 24),
        ["overdue-1 Sat 25/04/2015 08:00", "overdue-2 Mon 27/04/2015 08:00 escalate"],
    ),
    (
        "swap day: Sat 21/11/2015 made working",
        EVERY_DAY,
        SAT_WORKED,
        SEED,
        [
            "before-3 Tue 17/11/2015 08:00",
            "before-1 Thu 19/11/2015 08:00",
            "due Fri 20/11/2015 08:00",
            "overdue-1 Sat 21/11/2015 08:00",
            "overdue-2 Mon 23/11/2015 08:00 escalate",
            "overdue-3 Tue 24/11/2015 08:00 escalate",
        ],
    ),
    (
        "swap day: Mon 23/11/2015 made a holiday moves T-1 and T-3 back",
        EVERY_DAY,
        MON_OFF,
        DUE_24,
        [
            "before-3 Wed 18/11/2015 08:00",
            "before-1 Fri 20/11/2015 08:00",
            "due Tue 24/11/2015 08:00",
            "overdue-1 Wed 25/11/2015 08:00",
            "overdue-2 Thu 26/11/2015 08:00 escalate",
            "overdue-3 Fri 27/11/2015 08:00 escalate",
        ],
    ),
    (
        "swap day: the deadline day itself made a holiday",
        EVERY_DAY,
        TUE_OFF,
        DUE_24,
        [
            "before-3 Wed 18/11/2015 08:00",
            "before-1 Fri 20/11/2015 08:00",
            "due Mon 23/11/2015 08:00",
            "overdue-1 Wed 25/11/2015 08:00",
            "overdue-2 Thu 26/11/2015 08:00 escalate",
            "overdue-3 Fri 27/11/2015 08:00 escalate",
        ],
    ),
    (
        "Mon-Sat unit: the Saturday after the seed deadline is D+1",
        EVERY_DAY,
        FACTORY,
        SEED,
        [
            "before-3 Tue 17/11/2015 08:00",
            "before-1 Thu 19/11/2015 08:00",
            "due Fri 20/11/2015 08:00",
            "overdue-1 Sat 21/11/2015 08:00",
            "overdue-2 Mon 23/11/2015 08:00 escalate",
            "overdue-3 Tue 24/11/2015 08:00 escalate",
        ],
    ),
    (
        "Mon-Sat unit, end of Tue 24/11/2015: Saturdays count both ways",
        DEFAULT_POLICY,
        FACTORY,
        DUE_24,
        [
            "before-3 Fri 20/11/2015 08:00",
            "before-1 Mon 23/11/2015 08:00",
            "due Tue 24/11/2015 08:00",
            "overdue-1 Thu 26/11/2015 08:00",
            "overdue-2 Sat 28/11/2015 08:00 escalate",
            "overdue-3 Tue 01/12/2015 08:00 escalate",
        ],
    ),
    (
        "Mon-Fri unit, deadline on Sun 22/11/2015: due-day step on Fri 20/11",
        DEFAULT_POLICY,
        OFFICE,
        end_of(2015, 11, 22),
        [
            "before-3 Tue 17/11/2015 08:00",
            "before-1 Thu 19/11/2015 08:00",
            "due Fri 20/11/2015 08:00",
            "overdue-1 Tue 24/11/2015 08:00",
            "overdue-2 Thu 26/11/2015 08:00 escalate",
            "overdue-3 Mon 30/11/2015 08:00 escalate",
        ],
    ),
    (
        "deadline at 16:00 on Fri 20/11/2015: the due-day step still goes at 08:00",
        ReminderPolicy(overdue_max=1),
        OFFICE,
        local(2015, 11, 20, 16),
        [
            "before-3 Tue 17/11/2015 08:00",
            "before-1 Thu 19/11/2015 08:00",
            "due Fri 20/11/2015 08:00",
            "overdue-1 Tue 24/11/2015 08:00",
        ],
    ),
    (
        "deadline at 07:00 on Fri 20/11/2015: no due-day step after the deadline",
        ReminderPolicy(overdue_max=1),
        OFFICE,
        local(2015, 11, 20, 7),
        [
            "before-3 Tue 17/11/2015 08:00",
            "before-1 Thu 19/11/2015 08:00",
            "overdue-1 Tue 24/11/2015 08:00",
        ],
    ),
    (
        "another send time and window",
        AFTERNOON,
        OFFICE,
        DUE_24,
        ["before-2 Fri 20/11/2015 14:00"],
    ),
    (
        "escalate from the first overdue reminder",
        ReminderPolicy(before_days=(), on_due_day=False, escalate_after=1, overdue_max=2),
        OFFICE,
        SEED,
        ["overdue-1 Tue 24/11/2015 08:00 escalate", "overdue-2 Thu 26/11/2015 08:00 escalate"],
    ),
    (
        "escalate_after above overdue_max: never escalate",
        ReminderPolicy(before_days=(), on_due_day=False, escalate_after=4),
        OFFICE,
        SEED,
        [
            "overdue-1 Tue 24/11/2015 08:00",
            "overdue-2 Thu 26/11/2015 08:00",
            "overdue-3 Mon 30/11/2015 08:00",
        ],
    ),
    ("a policy with no steps at all", SILENT, OFFICE, SEED, []),
]


@pytest.mark.parametrize(
    ("policy", "calendar", "due_at", "expected"),
    [case[1:] for case in PLANS],
    ids=[case[0] for case in PLANS],
)
def test_plan_steps(
    policy: ReminderPolicy, calendar: WorkingCalendar, due_at: datetime, expected: list[str]
) -> None:
    assert [shown(s) for s in plan_steps(policy, due_at, calendar, VN_TZ)] == expected


def test_steps_carry_kind_number_and_utc_time() -> None:
    steps = plan_steps(DEFAULT_POLICY, SEED, OFFICE, VN_TZ)
    assert [(s.kind, s.number) for s in steps] == [
        (StepKind.BEFORE, 3),
        (StepKind.BEFORE, 1),
        (StepKind.DUE_DAY, 0),
        (StepKind.OVERDUE, 1),
        (StepKind.OVERDUE, 2),
        (StepKind.OVERDUE, 3),
    ]
    assert steps[0].at == datetime(2015, 11, 17, 1, 0, tzinfo=UTC)
    assert all(s.at.tzinfo is UTC for s in steps)


@pytest.mark.parametrize("calendar", [OFFICE, FACTORY], ids=["mon_fri", "mon_sat"])
def test_every_plan_of_2015_and_2016_agrees_with_working_days_left(
    calendar: WorkingCalendar,
) -> None:
    # before-N goes out when N working days are left, the due-day step on the last day,
    # overdue-K when K * overdue_every working days have passed; every step at an allowed moment.
    policy = ReminderPolicy(before_days=(5, 3, 2, 1), overdue_every=2, overdue_max=3)
    expected_left = {"before-5": 5, "before-3": 3, "before-2": 2, "before-1": 1, "due": 0}
    expected_left |= {"overdue-1": -2, "overdue-2": -4, "overdue-3": -6}
    day = date(2015, 1, 1)
    while day <= date(2016, 12, 31):
        due_at = end_of(day.year, day.month, day.day)
        steps = plan_steps(policy, due_at, calendar, VN_TZ)
        assert [s.key for s in steps] == list(expected_left), day
        for step in steps:
            assert working_days_left(due_at, step.at, calendar, VN_TZ) == expected_left[step.key]
            assert next_allowed(step.at, policy, calendar, VN_TZ) == step.at
            assert step.at.astimezone(VN_TZ).time() == time(8, 0)
            assert (step.at < due_at) is (step.kind is not StepKind.OVERDUE)
        day += timedelta(days=1)


NEXT_ALLOWED = [
    # id, moment, calendar, policy, expected
    (
        "before the window",
        local(2015, 11, 17, 6),
        OFFICE,
        DEFAULT_POLICY,
        local(2015, 11, 17, 7, 30),
    ),
    (
        "a second before the window",
        local(2015, 11, 17, 7, 29) + timedelta(seconds=59),
        OFFICE,
        DEFAULT_POLICY,
        local(2015, 11, 17, 7, 30),
    ),
    (
        "window opening",
        local(2015, 11, 17, 7, 30),
        OFFICE,
        DEFAULT_POLICY,
        local(2015, 11, 17, 7, 30),
    ),
    (
        "last second of the window",
        local(2015, 11, 17, 16, 59) + timedelta(seconds=59),
        OFFICE,
        DEFAULT_POLICY,
        local(2015, 11, 17, 16, 59) + timedelta(seconds=59),
    ),
    ("window end", local(2015, 11, 17, 17), OFFICE, DEFAULT_POLICY, local(2015, 11, 18, 7, 30)),
    ("Friday evening", local(2015, 11, 20, 19), OFFICE, DEFAULT_POLICY, local(2015, 11, 23, 7, 30)),
    (
        "Saturday, Mon-Fri unit",
        local(2015, 11, 21, 10),
        OFFICE,
        DEFAULT_POLICY,
        local(2015, 11, 23, 7, 30),
    ),
    (
        "Saturday, Mon-Sat unit",
        local(2015, 11, 21, 10),
        FACTORY,
        DEFAULT_POLICY,
        local(2015, 11, 21, 10),
    ),
    (
        "Saturday evening, Mon-Sat",
        local(2015, 11, 21, 19),
        FACTORY,
        DEFAULT_POLICY,
        local(2015, 11, 23, 7, 30),
    ),
    (
        "Sunday, Mon-Sat unit",
        local(2015, 11, 22, 9),
        FACTORY,
        DEFAULT_POLICY,
        local(2015, 11, 23, 7, 30),
    ),
    ("swap Saturday", local(2015, 11, 21, 10), SAT_WORKED, DEFAULT_POLICY, local(2015, 11, 21, 10)),
    ("swap holiday", local(2015, 11, 23, 10), MON_OFF, DEFAULT_POLICY, local(2015, 11, 24, 7, 30)),
    (
        "eve of Tết 2016",
        local(2016, 2, 5, 17, 30),
        OFFICE,
        DEFAULT_POLICY,
        local(2016, 2, 15, 7, 30),
    ),
    ("inside Tết 2016", local(2016, 2, 10, 9), OFFICE, DEFAULT_POLICY, local(2016, 2, 15, 7, 30)),
    ("before 30/4/2015", local(2015, 4, 27, 18), OFFICE, DEFAULT_POLICY, local(2015, 5, 4, 7, 30)),
    (
        "to a worked Saturday",
        local(2015, 4, 24, 18),
        OFFICE,
        DEFAULT_POLICY,
        local(2015, 4, 25, 7, 30),
    ),
    ("another window, morning", local(2015, 11, 17, 8), OFFICE, AFTERNOON, local(2015, 11, 17, 13)),
    (
        "another window, evening",
        local(2015, 11, 17, 16),
        OFFICE,
        AFTERNOON,
        local(2015, 11, 18, 13),
    ),
]


@pytest.mark.parametrize(
    ("moment", "calendar", "policy", "expected"),
    [case[1:] for case in NEXT_ALLOWED],
    ids=[case[0] for case in NEXT_ALLOWED],
)
def test_next_allowed(
    moment: datetime, calendar: WorkingCalendar, policy: ReminderPolicy, expected: datetime
) -> None:
    allowed = next_allowed(moment, policy, calendar, VN_TZ)
    assert allowed == expected
    assert allowed.tzinfo is UTC


def test_next_allowed_reads_any_timezone_as_the_same_instant() -> None:
    moment = datetime(2015, 11, 17, 1, 0, tzinfo=UTC)  # 08:00 in Hồ Chí Minh City
    assert next_allowed(moment, DEFAULT_POLICY, OFFICE, VN_TZ) == moment
    evening = datetime(2015, 11, 17, 12, 0, tzinfo=UTC)  # 19:00 local
    assert next_allowed(evening, DEFAULT_POLICY, OFFICE, VN_TZ) == local(2015, 11, 18, 7, 30)


DUE = [
    # id, policy, calendar, due_at, now, sent, expected key
    ("nothing due yet", DEFAULT_POLICY, OFFICE, SEED, local(2015, 11, 16, 10), set(), None),
    ("T-3 at 08:00", DEFAULT_POLICY, OFFICE, SEED, local(2015, 11, 17), set(), "before-3"),
    ("a tick before 08:00", DEFAULT_POLICY, OFFICE, SEED, local(2015, 11, 17, 7, 59), set(), None),
    ("T-3 already sent", DEFAULT_POLICY, OFFICE, SEED, local(2015, 11, 17, 9), {"before-3"}, None),
    ("T-1", DEFAULT_POLICY, OFFICE, SEED, local(2015, 11, 19), {"before-3"}, "before-1"),
    (
        "downtime: T-3 never sent, only T-1 goes",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 11, 19, 10),
        set(),
        "before-1",
    ),
    (
        "T-1 sent, T-3 never: no late T-3",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 11, 19, 10),
        {"before-1"},
        None,
    ),
    (
        "quiet hours 19:00",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 11, 19, 19),
        {"before-3"},
        None,
    ),
    ("quiet hours 06:00", DEFAULT_POLICY, OFFICE, SEED, local(2015, 11, 20, 6), {"before-3"}, None),
    ("window end 17:00", DEFAULT_POLICY, OFFICE, SEED, local(2015, 11, 17, 17), set(), None),
    (
        "just before the window closes",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 11, 17, 16, 59),
        set(),
        "before-3",
    ),
    (
        "due day",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 11, 20, 10),
        {"before-3", "before-1"},
        "due",
    ),
    (
        "Saturday after the deadline",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 11, 21, 10),
        set(),
        None,
    ),
    (
        "after the deadline nothing unsent before it comes back",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 11, 23, 9),
        set(),
        None,
    ),
    (
        "overdue-1 at D+2",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 11, 24),
        ALL_BEFORE,
        "overdue-1",
    ),
    (
        "downtime: Thu 26/11 with nothing sent, only overdue-2",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 11, 26, 11),
        set(),
        "overdue-2",
    ),
    (
        "overdue-2 sent, overdue-1 never",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 11, 27, 9),
        {"overdue-2"},
        None,
    ),
    (
        "a month later, the last overdue step was never sent",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 12, 21, 9),
        ALL_BEFORE | {"overdue-1", "overdue-2"},
        "overdue-3",
    ),
    (
        "everything sent",
        DEFAULT_POLICY,
        OFFICE,
        SEED,
        local(2015, 12, 21, 9),
        ALL_BEFORE | {"overdue-1", "overdue-2", "overdue-3"},
        None,
    ),
    (
        "downtime: 3 days after several steps, only the latest",
        EVERY_DAY,
        OFFICE,
        DUE_24,
        local(2015, 11, 27, 10),
        set(),
        "overdue-3",
    ),
    (
        "D+1 of Tue 24/11 is Wed 25/11",
        EVERY_DAY,
        OFFICE,
        DUE_24,
        local(2015, 11, 25),
        ALL_BEFORE,
        "overdue-1",
    ),
    (
        "Saturday, Mon-Sat unit",
        EVERY_DAY,
        FACTORY,
        SEED,
        local(2015, 11, 21),
        ALL_BEFORE,
        "overdue-1",
    ),
    ("Saturday, Mon-Fri unit", EVERY_DAY, OFFICE, SEED, local(2015, 11, 21), ALL_BEFORE, None),
    ("Monday, Mon-Fri unit", EVERY_DAY, OFFICE, SEED, local(2015, 11, 23), ALL_BEFORE, "overdue-1"),
    ("swap Saturday", EVERY_DAY, SAT_WORKED, SEED, local(2015, 11, 21), ALL_BEFORE, "overdue-1"),
    ("swap holiday", EVERY_DAY, MON_OFF, SEED, local(2015, 11, 23, 9), ALL_BEFORE, None),
    ("inside Tết", EVERY_DAY, OFFICE, end_of(2016, 2, 5), local(2016, 2, 10, 9), ALL_BEFORE, None),
    (
        "after Tết",
        EVERY_DAY,
        OFFICE,
        end_of(2016, 2, 5),
        local(2016, 2, 15),
        ALL_BEFORE,
        "overdue-1",
    ),
    (
        "deadline inside Tết: due-day reminder on Fri 05/02",
        EVERY_DAY,
        OFFICE,
        end_of(2016, 2, 10),
        local(2016, 2, 5, 8, 15),
        {"before-3", "before-1"},
        "due",
    ),
    (
        "T-2 on the worked Saturday 25/04/2015",
        ReminderPolicy(before_days=(3, 2, 1)),
        OFFICE,
        end_of(2015, 5, 4),
        local(2015, 4, 25, 9),
        {"before-3"},
        "before-2",
    ),
    ("30/4/2015", EVERY_DAY, OFFICE, end_of(2015, 4, 27), local(2015, 4, 30, 9), ALL_BEFORE, None),
    (
        "deadline 16:00: due-day step until then",
        DEFAULT_POLICY,
        OFFICE,
        local(2015, 11, 20, 16),
        local(2015, 11, 20, 15, 59),
        {"before-3", "before-1"},
        "due",
    ),
    (
        "deadline 16:00: no due-day step after it",
        DEFAULT_POLICY,
        OFFICE,
        local(2015, 11, 20, 16),
        local(2015, 11, 20, 16, 30),
        {"before-3", "before-1"},
        None,
    ),
    ("no steps at all", SILENT, OFFICE, SEED, local(2015, 11, 24), set(), None),
]


@pytest.mark.parametrize(
    ("policy", "calendar", "due_at", "now", "sent", "expected"),
    [case[1:] for case in DUE],
    ids=[case[0] for case in DUE],
)
def test_due_step(
    policy: ReminderPolicy,
    calendar: WorkingCalendar,
    due_at: datetime,
    now: datetime,
    sent: set[str],
    expected: str | None,
) -> None:
    step = due_step(policy, due_at, calendar, VN_TZ, now, sent)
    assert (step.key if step else None) == expected


def test_due_step_is_the_planned_step() -> None:
    step = due_step(DEFAULT_POLICY, SEED, OFFICE, VN_TZ, local(2015, 11, 26, 11), set())
    assert step == plan_steps(DEFAULT_POLICY, SEED, OFFICE, VN_TZ)[4]
    assert step is not None and step.escalate


def test_it_never_sends_a_before_step_after_the_deadline() -> None:
    ticks = [SEED + timedelta(minutes=15 * i) for i in range(4 * 24 * 20)]
    steps = [due_step(DEFAULT_POLICY, SEED, OFFICE, VN_TZ, now, set()) for now in ticks]
    assert {s.kind for s in steps if s is not None} == {StepKind.OVERDUE}


def test_a_run_every_15_minutes_sends_each_step_once_on_its_day() -> None:
    sent: list[str] = []
    now = local(2015, 11, 1, 0)
    while now < local(2015, 12, 10, 0):
        step = due_step(DEFAULT_POLICY, DUE_24, FACTORY, VN_TZ, now, sent)
        if step is not None:
            assert step.at == now
            sent.append(step.key)
        now += timedelta(minutes=15)
    assert sent == [s.key for s in plan_steps(DEFAULT_POLICY, DUE_24, FACTORY, VN_TZ)]


def test_an_extension_granted_between_planning_and_sending_gives_new_steps() -> None:
    # Planned at 07:00 on Mon 23/11 for the original deadline: before-1 at 08:00.
    planned = due_step(DEFAULT_POLICY, DUE_24, OFFICE, VN_TZ, local(2015, 11, 23, 8), {"before-3"})
    assert planned is not None and planned.key == "before-1"
    # At 07:45 the unit gets until the end of Fri 27/11: version 2, nothing sent for it yet.
    extended = effective_due(DUE_24, end_of(2015, 11, 27))
    assert due_step(DEFAULT_POLICY, extended, OFFICE, VN_TZ, local(2015, 11, 23, 8), set()) is None
    old = plan_steps(DEFAULT_POLICY, DUE_24, OFFICE, VN_TZ)
    new = plan_steps(DEFAULT_POLICY, extended, OFFICE, VN_TZ)
    # Same keys, other moments: the caller stores the deadline version with each key.
    assert [s.key for s in new] == [s.key for s in old]
    assert [shown(s) for s in new[:3]] == [
        "before-3 Tue 24/11/2015 08:00",
        "before-1 Thu 26/11/2015 08:00",
        "due Fri 27/11/2015 08:00",
    ]
    # "before-3" was sent for version 1; version 2 has its own before-3 on Tue 24/11.
    step = due_step(DEFAULT_POLICY, extended, OFFICE, VN_TZ, local(2015, 11, 24, 8), set())
    assert step is not None and step.key == "before-3"
    assert working_days_left(extended, step.at, OFFICE, VN_TZ) == 3


@dataclass(frozen=True)
class Sub:
    version: int
    received_at: datetime
    review_state: str = ReviewState.RECEIVED


def test_a_submission_between_planning_and_sending_skips_the_unit() -> None:
    sending = local(2015, 11, 23, 8)
    planned = due_step(DEFAULT_POLICY, DUE_24, OFFICE, VN_TZ, sending, {"before-3"})
    assert planned is not None and planned.key == "before-1"
    submissions = [Sub(1, local(2015, 11, 23, 7, 40))]
    at_planning = assignment_status(
        due_at=DUE_24, exempt=False, submissions=submissions, now=local(2015, 11, 23, 7)
    )
    at_sending = assignment_status(
        due_at=DUE_24, exempt=False, submissions=submissions, now=sending
    )
    assert eligibility(at_planning, has_contact=True, closed=False) is None
    assert eligibility(at_sending, has_contact=True, closed=False) is Skip.SUBMITTED


def test_a_report_returned_for_correction_is_reminded_again() -> None:
    submissions = [Sub(1, local(2015, 11, 20, 9), ReviewState.RETURNED)]
    status = assignment_status(
        due_at=DUE_24, exempt=False, submissions=submissions, now=local(2015, 11, 23, 8)
    )
    assert eligibility(status, has_contact=True, closed=False) is None


ELIGIBILITY = [
    # status, has_contact, closed, expected
    (Status.PENDING, True, False, None),
    (Status.OVERDUE, True, False, None),
    (Status.RETURNED, True, False, None),
    (Status.ON_TIME, True, False, Skip.SUBMITTED),
    (Status.LATE, True, False, Skip.SUBMITTED),
    (Status.EXEMPT, True, False, Skip.EXEMPT),
    (Status.PENDING, False, False, Skip.NO_CONTACT),
    (Status.OVERDUE, False, False, Skip.NO_CONTACT),
    (Status.OVERDUE, True, True, Skip.CLOSED),
    (Status.RETURNED, False, True, Skip.CLOSED),
    (Status.ON_TIME, False, True, Skip.SUBMITTED),
    (Status.LATE, True, True, Skip.SUBMITTED),
    (Status.EXEMPT, False, True, Skip.EXEMPT),
]


@pytest.mark.parametrize(("status", "has_contact", "closed", "expected"), ELIGIBILITY)
def test_eligibility(
    status: Status, has_contact: bool, closed: bool, expected: Skip | None
) -> None:
    assert eligibility(status, has_contact=has_contact, closed=closed) is expected


def test_every_skip_has_a_vietnamese_label() -> None:
    assert set(SKIP_LABELS_VI) == set(Skip)


WORKING_DAYS_LEFT = [
    # id, due_at, now, calendar, expected
    ("T-3 of Tue 24/11", DUE_24, local(2015, 11, 19), OFFICE, 3),
    ("Friday before", DUE_24, local(2015, 11, 20, 16), OFFICE, 2),
    ("Saturday before", DUE_24, local(2015, 11, 21), OFFICE, 2),
    ("T-1", DUE_24, local(2015, 11, 23), OFFICE, 1),
    ("the day, morning", DUE_24, local(2015, 11, 24), OFFICE, 0),
    ("the day, last minute", DUE_24, local(2015, 11, 24, 23, 59), OFFICE, 0),
    ("D+1 at midnight", DUE_24, DUE_24, OFFICE, -1),
    ("D+3", DUE_24, local(2015, 11, 27), OFFICE, -3),
    ("the Saturday after", DUE_24, local(2015, 11, 28), OFFICE, -3),
    ("D+4", DUE_24, local(2015, 11, 30), OFFICE, -4),
    ("Mon-Sat unit, Friday before", DUE_24, local(2015, 11, 20), FACTORY, 3),
    ("Mon-Sat unit, Saturday after", DUE_24, local(2015, 11, 28), FACTORY, -4),
    ("seed, D+1 is Monday", SEED, local(2015, 11, 23), OFFICE, -1),
    ("before Tết, deadline after it", end_of(2016, 2, 15), local(2016, 2, 5), OFFICE, 1),
    ("inside Tết, deadline after it", end_of(2016, 2, 15), local(2016, 2, 10), OFFICE, 1),
    ("deadline inside Tết, last day before", end_of(2016, 2, 10), local(2016, 2, 5), OFFICE, 0),
    ("deadline inside Tết, after it", end_of(2016, 2, 10), local(2016, 2, 15), OFFICE, -1),
    ("across 30/4-1/5/2015", end_of(2015, 5, 4), local(2015, 4, 24), OFFICE, 3),
    (
        "deadline 16:00, after it that day",
        local(2015, 11, 20, 16),
        local(2015, 11, 20, 17),
        OFFICE,
        0,
    ),
]


@pytest.mark.parametrize(
    ("due_at", "now", "calendar", "expected"),
    [case[1:] for case in WORKING_DAYS_LEFT],
    ids=[case[0] for case in WORKING_DAYS_LEFT],
)
def test_working_days_left(
    due_at: datetime, now: datetime, calendar: WorkingCalendar, expected: int
) -> None:
    assert working_days_left(due_at, now, calendar, VN_TZ) == expected


def test_deadline_day_is_the_day_before_the_first_late_instant() -> None:
    assert deadline_day(DUE_24, VN_TZ) == date(2015, 11, 24)
    assert deadline_day(local(2015, 11, 20, 16), VN_TZ) == date(2015, 11, 20)


@pytest.mark.parametrize(
    "call",
    [
        lambda: plan_steps(DEFAULT_POLICY, datetime(2015, 11, 25), OFFICE, VN_TZ),  # noqa: DTZ001
        lambda: next_allowed(datetime(2015, 11, 25, 8), DEFAULT_POLICY, OFFICE, VN_TZ),  # noqa: DTZ001
        lambda: due_step(DEFAULT_POLICY, SEED, OFFICE, VN_TZ, datetime(2015, 11, 20, 8), ()),  # noqa: DTZ001
        lambda: working_days_left(SEED, datetime(2015, 11, 20, 8), OFFICE, VN_TZ),  # noqa: DTZ001
    ],
    ids=["plan_steps", "next_allowed", "due_step", "working_days_left"],
)
def test_naive_datetimes_are_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="naive"):
        call()


DEFAULT_JSON = {
    "before_days": [3, 1],
    "on_due_day": True,
    "overdue_every": 2,
    "overdue_max": 3,
    "send_at": "08:00",
    "window_start": "07:30",
    "window_end": "17:00",
    "escalate_after": 2,
}


def test_default_policy_as_json() -> None:
    assert DEFAULT_POLICY.to_json() == DEFAULT_JSON
    assert ReminderPolicy.from_json(DEFAULT_JSON) == DEFAULT_POLICY


@pytest.mark.parametrize(
    "policy",
    [DEFAULT_POLICY, EVERY_DAY, AFTERNOON, SILENT, ReminderPolicy(before_days=(10, 5, 2, 1))],
    ids=["default", "every_day", "afternoon", "silent", "many_before"],
)
def test_policy_json_round_trip(policy: ReminderPolicy) -> None:
    text = json.dumps(policy.to_json())
    assert ReminderPolicy.from_json(json.loads(text)) == policy


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, DEFAULT_POLICY),
        ({"overdue_every": 1}, EVERY_DAY),
        ({"before_days": [1, 3]}, DEFAULT_POLICY),
        ({"before_days": []}, ReminderPolicy(before_days=())),
        ({"send_at": "7:45"}, ReminderPolicy(send_at=time(7, 45))),
        ({"window_end": "23:59"}, ReminderPolicy(window_end=time(23, 59))),
    ],
    ids=["empty", "one_field", "any_order", "no_before", "one_digit_hour", "late_window"],
)
def test_policy_from_partial_json(data: dict[str, object], expected: ReminderPolicy) -> None:
    assert ReminderPolicy.from_json(data) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"before_days": [3, -1]}, "before_days must be from 1 to 30 working days before the"),
        ({"before_days": [0]}, "before_days must be from 1 to 30"),
        ({"before_days": [31]}, "before_days must be from 1 to 30"),
        ({"before_days": [3, 3]}, "before_days lists a day twice"),
        ({"before_days": "3,1"}, "before_days must be a list of working days"),
        ({"before_days": [1.5]}, "before_days must be a whole number"),
        ({"overdue_every": 0}, "overdue_every must be from 1 to 30 working days, got 0"),
        ({"overdue_every": -2}, "overdue_every must be from 1 to 30"),
        ({"overdue_max": 11}, "overdue_max must be from 0 to 10 overdue reminders, got 11"),
        ({"overdue_max": -1}, "overdue_max must be from 0 to 10"),
        ({"overdue_max": True}, "overdue_max must be a whole number, got True"),
        ({"overdue_max": "3"}, "overdue_max must be a whole number"),
        ({"escalate_after": 0}, "escalate_after must be at least 1"),
        ({"on_due_day": "yes"}, "on_due_day must be true or false"),
        ({"window_start": "17:00", "window_end": "07:30"}, "window_end .* must be later than"),
        (
            {"window_end": "07:30"},
            r"window_end \(07:30\) must be later than window_start \(07:30\)",
        ),
        (
            {"send_at": "07:00"},
            r"send_at \(07:00\) must be inside the send window \[07:30, 17:00\)",
        ),
        ({"send_at": "17:00"}, "send_at .* must be inside the send window"),
        ({"send_at": "8h"}, 'send_at must be a time of day like "08:00"'),
        ({"send_at": 480}, r"quoted in YAML\), got 480"),
        ({"window_start": "24:00"}, "window_start must be a time of day"),
        ({"sendat": "08:00"}, "unknown reminder policy field sendat"),
        ([3, 1], "a reminder policy must be a JSON object"),
        ("default", "a reminder policy must be a JSON object"),
    ],
)
def test_policy_validation_errors(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReminderPolicy.from_json(data)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ReminderPolicy(overdue_max=11), "overdue_max"),
        (lambda: ReminderPolicy(before_days=(-1,)), "before_days"),
        (lambda: ReminderPolicy(send_at=time(8, 0, 30)), "send_at must be a local time in whole"),
        (lambda: ReminderPolicy(send_at=time(8, tzinfo=UTC)), "send_at must be a local time"),
        (lambda: ReminderPolicy(window_end=time(7)), "window_end"),
    ],
    ids=["overdue_max", "before_days", "seconds", "aware_time", "window"],
)
def test_policy_constructor_validates_too(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_before_days_are_kept_earliest_first() -> None:
    assert ReminderPolicy(before_days=(1, 5, 3)).before_days == (5, 3, 1)
