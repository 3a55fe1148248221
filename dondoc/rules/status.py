"""Where a unit stands on one requirement, as of a given instant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Status(StrEnum):
    PENDING = "pending"
    ON_TIME = "on_time"
    LATE = "late"
    OVERDUE = "overdue"
    RETURNED = "returned"
    EXEMPT = "exempt"


STATUS_LABELS_VI: dict[Status, str] = {
    Status.PENDING: "Chưa đến hạn",
    Status.ON_TIME: "Đã nộp đúng hạn",
    Status.LATE: "Nộp trễ hạn",
    Status.OVERDUE: "Quá hạn, chưa nộp",
    Status.RETURNED: "Trả lại, chờ bổ sung",
    Status.EXEMPT: "Miễn nộp",
}


class ReviewState(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    RETURNED = "returned"


REVIEW_LABELS_VI: dict[ReviewState, str] = {
    ReviewState.RECEIVED: "Đã tiếp nhận",
    ReviewState.ACCEPTED: "Đã chấp nhận",
    ReviewState.RETURNED: "Trả lại để bổ sung",
}


class SubmissionFacts(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def review_state(self) -> str: ...


def effective_due(requirement_due_at: datetime, extended_due_at: datetime | None) -> datetime:
    """The extension when there is one. An extension never shortens the deadline: a date
    entered earlier than the requirement's own would make units late for nothing."""
    _require_aware(requirement_due_at)
    if extended_due_at is None:
        return requirement_due_at
    return max(requirement_due_at, _require_aware(extended_due_at))


def assignment_status(
    *, due_at: datetime, exempt: bool, submissions: Sequence[SubmissionFacts], now: datetime
) -> Status:
    _require_aware(due_at)
    _require_aware(now)
    # Status as of `now`: a submission recorded with a later time has not happened yet.
    received = [s for s in submissions if _require_aware(s.received_at) <= now]
    if exempt:
        return Status.EXEMPT
    if not received:
        return Status.PENDING if now < due_at else Status.OVERDUE
    latest = max(received, key=lambda s: s.version)
    if ReviewState(latest.review_state) is ReviewState.RETURNED:
        return Status.RETURNED
    # The first report decides: a corrected version does not make a punctual unit late.
    first_received_at = min(s.received_at for s in received)
    return Status.ON_TIME if first_received_at < due_at else Status.LATE


def is_submitted(status: Status) -> bool:
    return status in (Status.ON_TIME, Status.LATE)


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {moment.isoformat()}")
    return moment


def intake_closed(hard_close_at: datetime | None, due_at: datetime, now: datetime) -> bool:
    """Whether a unit can no longer submit. The hard close applies to everyone, except that a
    unit granted an extension beyond it may submit until its own (effective) deadline."""
    return hard_close_at is not None and now >= max(hard_close_at, due_at)
