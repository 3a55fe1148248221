from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from dondoc.rules.deadlines import VN_TZ
from dondoc.rules.status import (
    REVIEW_LABELS_VI,
    STATUS_LABELS_VI,
    ReviewState,
    Status,
    SubmissionFacts,
    assignment_status,
    effective_due,
    intake_closed,
    is_submitted,
)

# End of Tue 24/11/2015 in Hồ Chí Minh City: the first instant at which a report is late.
DUE = datetime(2015, 11, 25, 0, 0, tzinfo=VN_TZ)
EXTENDED = DUE + timedelta(days=3)
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Sub:
    version: int
    received_at: datetime
    review_state: str = ReviewState.RECEIVED


def _status(
    submissions: list[Sub], now: datetime, *, due: datetime = DUE, exempt: bool = False
) -> Status:
    return assignment_status(due_at=due, exempt=exempt, submissions=submissions, now=now)


CASES = [
    # id, submissions, now, due, exempt, expected
    ("nothing yet, before the deadline", [], DUE - SECOND, DUE, False, Status.PENDING),
    ("nothing, at the deadline instant", [], DUE, DUE, False, Status.OVERDUE),
    ("nothing, long after", [], DUE + timedelta(days=30), DUE, False, Status.OVERDUE),
    (
        "one microsecond before the deadline is on time",
        [Sub(1, DUE - MICROSECOND)],
        DUE + timedelta(days=1),
        DUE,
        False,
        Status.ON_TIME,
    ),
    (
        "23:59:59 local on the last day is on time",
        [Sub(1, datetime(2015, 11, 24, 16, 59, 59, tzinfo=UTC))],
        DUE,
        DUE,
        False,
        Status.ON_TIME,
    ),
    (
        "exactly at the deadline is late",
        [Sub(1, DUE)],
        DUE + SECOND,
        DUE,
        False,
        Status.LATE,
    ),
    (
        "the same instant written in UTC is late too",
        [Sub(1, datetime(2015, 11, 24, 17, 0, tzinfo=UTC))],
        DUE + SECOND,
        DUE,
        False,
        Status.LATE,
    ),
    (
        "an extension makes a day-late report on time",
        [Sub(1, DUE + timedelta(days=1))],
        EXTENDED + SECOND,
        EXTENDED,
        False,
        Status.ON_TIME,
    ),
    (
        "after the extension ends it is late",
        [Sub(1, EXTENDED)],
        EXTENDED + SECOND,
        EXTENDED,
        False,
        Status.LATE,
    ),
    ("not overdue while extended", [], DUE + SECOND, EXTENDED, False, Status.PENDING),
    ("exempt with nothing", [], DUE + timedelta(days=9), DUE, True, Status.EXEMPT),
    (
        "exempt wins over a late report",
        [Sub(1, DUE + SECOND)],
        DUE + timedelta(days=9),
        DUE,
        True,
        Status.EXEMPT,
    ),
    (
        "returned and nothing new yet",
        [Sub(1, DUE - timedelta(days=2), ReviewState.RETURNED)],
        DUE - timedelta(days=1),
        DUE,
        False,
        Status.RETURNED,
    ),
    (
        "returned stays returned after the deadline",
        [Sub(1, DUE - timedelta(days=2), ReviewState.RETURNED)],
        DUE + timedelta(days=1),
        DUE,
        False,
        Status.RETURNED,
    ),
    (
        "a corrected version after the deadline keeps the first report's punctuality",
        [
            Sub(1, DUE - timedelta(days=2), ReviewState.RETURNED),
            Sub(2, DUE + timedelta(days=1), ReviewState.ACCEPTED),
        ],
        DUE + timedelta(days=2),
        DUE,
        False,
        Status.ON_TIME,
    ),
    (
        "a late first report stays late after correction",
        [
            Sub(1, DUE + timedelta(hours=1), ReviewState.RETURNED),
            Sub(2, DUE + timedelta(days=1)),
        ],
        DUE + timedelta(days=2),
        DUE,
        False,
        Status.LATE,
    ),
    (
        "the highest version decides returned, whatever the list order",
        [
            Sub(2, DUE - timedelta(days=1), ReviewState.RETURNED),
            Sub(1, DUE - timedelta(days=2), ReviewState.ACCEPTED),
        ],
        DUE + timedelta(days=1),
        DUE,
        False,
        Status.RETURNED,
    ),
    (
        "an accepted report",
        [Sub(1, DUE - timedelta(days=4), ReviewState.ACCEPTED)],
        DUE + timedelta(days=1),
        DUE,
        False,
        Status.ON_TIME,
    ),
    (
        "a report received after now has not happened yet",
        [Sub(1, DUE - timedelta(hours=1))],
        DUE - timedelta(hours=2),
        DUE,
        False,
        Status.PENDING,
    ),
    (
        "as of a moment past the deadline, a later report is ignored: overdue",
        [Sub(1, DUE + timedelta(days=2))],
        DUE + timedelta(days=1),
        DUE,
        False,
        Status.OVERDUE,
    ),
    (
        "a resubmission after now is ignored: still returned",
        [
            Sub(1, DUE - timedelta(days=2), ReviewState.RETURNED),
            Sub(2, DUE + timedelta(days=1)),
        ],
        DUE,
        DUE,
        False,
        Status.RETURNED,
    ),
    (
        "a report received exactly at now counts",
        [Sub(1, DUE - timedelta(hours=1))],
        DUE - timedelta(hours=1),
        DUE,
        False,
        Status.ON_TIME,
    ),
]


@pytest.mark.parametrize(
    ("submissions", "now", "due", "exempt", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_assignment_status(
    submissions: list[Sub], now: datetime, due: datetime, exempt: bool, expected: Status
) -> None:
    assert _status(submissions, now, due=due, exempt=exempt) is expected


def test_a_plain_object_satisfies_the_submission_protocol() -> None:
    facts: SubmissionFacts = Sub(1, DUE)
    assert facts.version == 1


@pytest.mark.parametrize(
    ("requirement", "extension", "expected"),
    [
        (DUE, None, DUE),
        (DUE, EXTENDED, EXTENDED),
        (DUE, DUE, DUE),
        # An "extension" that is earlier than the deadline never takes time away.
        (DUE, DUE - timedelta(days=1), DUE),
    ],
)
def test_effective_due(
    requirement: datetime, extension: datetime | None, expected: datetime
) -> None:
    assert effective_due(requirement, extension) == expected


NAIVE = datetime(2015, 11, 24, 17, 0)  # noqa: DTZ001


@pytest.mark.parametrize(
    "call",
    [
        lambda: _status([], NAIVE),
        lambda: _status([], DUE, due=NAIVE),
        lambda: _status([Sub(1, NAIVE)], DUE),
        lambda: _status([Sub(1, NAIVE)], DUE, exempt=True),
        lambda: effective_due(NAIVE, None),
        lambda: effective_due(DUE, NAIVE),
    ],
    ids=["now", "due_at", "received_at", "received_at when exempt", "requirement due", "extension"],
)
def test_naive_datetimes_are_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        call()


def test_an_unknown_review_state_is_refused() -> None:
    with pytest.raises(ValueError, match="lost"):
        _status([Sub(1, DUE - SECOND, "lost")], DUE)


@pytest.mark.parametrize(
    ("status", "submitted"),
    [
        (Status.PENDING, False),
        (Status.ON_TIME, True),
        (Status.LATE, True),
        (Status.OVERDUE, False),
        (Status.RETURNED, False),
        (Status.EXEMPT, False),
    ],
)
def test_is_submitted(status: Status, submitted: bool) -> None:
    assert is_submitted(status) is submitted


def test_every_status_and_review_state_has_a_vietnamese_label() -> None:
    assert set(STATUS_LABELS_VI) == set(Status)
    assert set(REVIEW_LABELS_VI) == set(ReviewState)
    assert STATUS_LABELS_VI[Status.OVERDUE] == "Quá hạn, chưa nộp"
    assert STATUS_LABELS_VI[Status.RETURNED] == "Trả lại, chờ bổ sung"


def test_statuses_are_stored_as_their_values() -> None:
    assert str(Status.ON_TIME) == "on_time"
    assert Status("returned") is Status.RETURNED


@pytest.mark.parametrize(
    ("hard_close", "due", "now", "closed"),
    [
        (None, "2015-11-24T17:00", "2016-01-01T00:00", False),  # no hard close: late is fine
        ("2015-11-27T10:00", "2015-11-24T17:00", "2015-11-27T09:59", False),
        ("2015-11-27T10:00", "2015-11-24T17:00", "2015-11-27T10:00", True),
        ("2015-11-27T10:00", "2015-12-04T17:00", "2015-12-01T01:00", False),  # extended past it
        ("2015-11-27T10:00", "2015-12-04T17:00", "2015-12-04T17:00", True),
    ],
)
def test_intake_closes_at_the_hard_close_unless_extended_beyond_it(
    hard_close: str | None, due: str, now: str, closed: bool
) -> None:
    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    close_at = utc(hard_close) if hard_close else None
    assert intake_closed(close_at, utc(due), utc(now)) is closed
