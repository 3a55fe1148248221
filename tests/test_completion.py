"""When a requirement is complete, what state it is in, and when it is cut off: pure rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from dondoc.completion import (
    COMPLETE,
    CUTOFF,
    EXEMPT,
    AssignmentFacts,
    Claim,
    RequirementFacts,
    claim_due,
    counted_version,
    cutoff_at,
    cutoff_day,
    progress,
    state_key,
)
from dondoc.rules.calendar import WorkingCalendar, WorkWeek
from dondoc.rules.deadlines import VN_TZ
from dondoc.rules.status import ReviewState

# The seed's cdcs requirement: until the end of Tue 24/11/2015, cut off 2 working days later.
DUE_DAY = date(2015, 11, 24)
DUE = datetime(2015, 11, 25, 0, 0, tzinfo=VN_TZ)
BEFORE = DUE - timedelta(days=1)
NOW = DUE + timedelta(hours=9)
RECEIVED, ACCEPTED, RETURNED = ReviewState.RECEIVED, ReviewState.ACCEPTED, ReviewState.RETURNED


@dataclass(frozen=True)
class Sub:
    version: int
    review_state: str
    received_at: datetime = BEFORE


def unit(aid: int, *states: str, exempt: bool = False, at: datetime = BEFORE) -> AssignmentFacts:
    subs = [Sub(n, state, at) for n, state in enumerate(states, start=1)]
    return AssignmentFacts(aid, exempt, subs)


def requirement(
    *units: AssignmentFacts, review: bool = True, cutoff_days: int | None = 2
) -> RequirementFacts:
    return RequirementFacts(1, "cdcs", review, DUE_DAY, DUE, cutoff_days, WorkWeek.MON_FRI, units)


COMPLETION = [
    # id, requirement, complete, done/required
    ("every unit accepted", requirement(unit(1, ACCEPTED), unit(2, ACCEPTED)), True, (2, 2)),
    ("one unit sent nothing", requirement(unit(1, ACCEPTED), unit(2)), False, (1, 2)),
    (
        "an exempt unit is not waited for",
        requirement(unit(1, ACCEPTED), unit(2, exempt=True)),
        True,
        (1, 1),
    ),
    ("only exempt units: nothing to consolidate", requirement(unit(1, exempt=True)), False, (0, 0)),
    ("received, not reviewed", requirement(unit(1, ACCEPTED), unit(2, RECEIVED)), False, (1, 2)),
    (
        "received is enough when no review is required",
        requirement(unit(1, RECEIVED), unit(2, ACCEPTED), review=False),
        True,
        (2, 2),
    ),
    (
        "a unit whose latest version was returned is not done",
        requirement(unit(1, ACCEPTED), unit(2, ACCEPTED, RETURNED)),
        False,
        (1, 2),
    ),
    (
        "returned is not done without review either",
        requirement(unit(1, RECEIVED), unit(2, RETURNED), review=False),
        False,
        (1, 2),
    ),
    (
        "a newer version waiting for review does not undo an accepted one",
        requirement(unit(1, ACCEPTED), unit(2, ACCEPTED, RECEIVED)),
        True,
        (2, 2),
    ),
    (
        "corrected after a return and accepted",
        requirement(unit(1, ACCEPTED), unit(2, RETURNED, ACCEPTED)),
        True,
        (2, 2),
    ),
    (
        "a report received after now has not happened yet",
        requirement(unit(1, ACCEPTED), unit(2, ACCEPTED, at=NOW + timedelta(minutes=1))),
        False,
        (1, 2),
    ),
]


@pytest.mark.parametrize(
    ("req", "complete", "counts"), [c[1:] for c in COMPLETION], ids=[c[0] for c in COMPLETION]
)
def test_completion(req: RequirementFacts, complete: bool, counts: tuple[int, int]) -> None:
    p = progress(req, now=NOW)
    assert p.complete is complete
    assert (p.done, p.required) == counts


COUNTED = [
    ("nothing sent", unit(1), True, None),
    ("exempt wins over what was sent", unit(1, ACCEPTED, exempt=True), True, EXEMPT),
    ("the latest accepted version", unit(1, ACCEPTED, ACCEPTED), True, "2"),
    ("accepted v1 while v2 waits", unit(1, ACCEPTED, RECEIVED), True, "1"),
    ("v2 waits, no review needed", unit(1, ACCEPTED, RECEIVED), False, "2"),
    ("returned after a resubmission", unit(1, ACCEPTED, RETURNED), True, None),
    ("only received, review needed", unit(1, RECEIVED), True, None),
]


@pytest.mark.parametrize(
    ("facts", "review", "expected"), [c[1:] for c in COUNTED], ids=[c[0] for c in COUNTED]
)
def test_counted_version(facts: AssignmentFacts, review: bool, expected: str | None) -> None:
    assert counted_version(facts, review_required=review, now=NOW) == expected


def _key(*units: AssignmentFacts) -> str:
    return progress(requirement(*units), now=NOW).state_key


def test_state_key_changes_when_a_counted_version_changes() -> None:
    first = _key(unit(1, ACCEPTED), unit(2, ACCEPTED))
    assert len(first) == 64 and int(first, 16) >= 0
    assert _key(unit(2, ACCEPTED), unit(1, ACCEPTED)) == first  # order does not matter
    assert _key(unit(1, ACCEPTED), unit(2, ACCEPTED, RECEIVED)) == first  # v2 not counted yet
    assert _key(unit(1, ACCEPTED), unit(2, ACCEPTED, ACCEPTED)) != first  # the correction
    assert _key(unit(1, ACCEPTED), unit(2, ACCEPTED, exempt=True)) != first
    assert state_key({1: "1", 2: None}) != state_key({1: "1"})


CUTOFF_DAYS = [
    # id, deadline day, working days, week, cut-off day
    ("the seed: Tue + 2 = Thu", date(2015, 11, 24), 2, WorkWeek.MON_FRI, date(2015, 11, 26)),
    ("over a weekend", date(2015, 11, 20), 1, WorkWeek.MON_FRI, date(2015, 11, 23)),
    ("a Saturday-working office", date(2015, 11, 20), 1, WorkWeek.MON_SAT, date(2015, 11, 21)),
    ("Hùng Kings' day, 30/4 and 1/5", date(2015, 4, 27), 1, WorkWeek.MON_FRI, date(2015, 5, 4)),
    (
        "Tết: the make-up Saturday, then the holiday week",
        date(2015, 2, 13),
        2,
        WorkWeek.MON_FRI,
        date(2015, 2, 24),
    ),
    ("zero days: the deadline day", date(2015, 11, 24), 0, WorkWeek.MON_FRI, date(2015, 11, 24)),
]


@pytest.mark.parametrize(
    ("due_day", "days", "week", "expected"),
    [c[1:] for c in CUTOFF_DAYS],
    ids=[c[0] for c in CUTOFF_DAYS],
)
def test_cutoff_day(due_day: date, days: int, week: WorkWeek, expected: date) -> None:
    assert cutoff_day(due_day, days, WorkingCalendar(week)) == expected


def test_the_cutoff_is_the_start_of_the_cutoff_day_and_never_before_the_deadline() -> None:
    incomplete = requirement(unit(1, ACCEPTED), unit(2))
    assert cutoff_at(incomplete, VN_TZ) == datetime(2015, 11, 26, 0, 0, tzinfo=VN_TZ)
    assert cutoff_at(requirement(unit(1), cutoff_days=0), VN_TZ) == DUE
    assert cutoff_at(requirement(unit(1), cutoff_days=None), VN_TZ) is None


def _claim(req: RequirementFacts, now: datetime, claimed: set[str] | None = None) -> Claim | None:
    return claim_due(req, progress(req, now=now), now=now, tz=VN_TZ, claimed=claimed or set())


def test_a_complete_state_is_claimed_once() -> None:
    req = requirement(unit(1, ACCEPTED), unit(2, ACCEPTED))
    claim = _claim(req, NOW)
    assert claim is not None and claim.reason == COMPLETE
    assert claim.state_key == progress(req, now=NOW).state_key
    assert _claim(req, NOW, {claim.state_key}) is None
    corrected = requirement(unit(1, ACCEPTED), unit(2, ACCEPTED, ACCEPTED))
    assert _claim(corrected, NOW, {claim.state_key}) is not None  # a new state


def test_an_incomplete_requirement_is_claimed_at_the_cutoff_then_at_each_new_state() -> None:
    req = requirement(unit(1, ACCEPTED), unit(2))
    cut = datetime(2015, 11, 26, 0, 0, tzinfo=VN_TZ)
    assert _claim(req, cut - timedelta(microseconds=1)) is None
    claim = _claim(req, cut)
    assert claim == Claim(1, "cdcs", progress(req, now=cut).state_key, CUTOFF)
    assert _claim(req, cut + timedelta(days=3), {claim.state_key}) is None  # same state: once
    late = requirement(unit(1, ACCEPTED), unit(2, RECEIVED, at=cut + timedelta(days=1)))
    waiting = _claim(late, cut + timedelta(days=2), {claim.state_key})
    assert waiting is None  # received, not accepted yet: the same counted state
    corrected = requirement(unit(1, ACCEPTED, ACCEPTED), unit(2))
    after_cut = _claim(corrected, cut + timedelta(days=2), {claim.state_key})
    assert after_cut is not None and after_cut.reason == CUTOFF  # a new version after the cut-off
    done = requirement(unit(1, ACCEPTED), unit(2, ACCEPTED, at=cut + timedelta(days=1)))
    after = _claim(done, cut + timedelta(days=2), {claim.state_key})
    assert after is not None and after.reason == COMPLETE  # completing later is a new claim
    assert _claim(requirement(unit(1), cutoff_days=None), cut + timedelta(days=30)) is None
