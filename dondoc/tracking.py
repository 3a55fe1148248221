"""Each unit's status in a campaign at a given moment (for the CLI and the tracking flow).

The statuses come from one SQL query (dondoc.statusquery) that mirrors the pure rules in
dondoc.rules.status; `submissions_by_assignment` gives the rules' own inputs to code that
decides with them (completion)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from dondoc.rules.status import Status
from dondoc.statusquery import TableRow, status_rows, status_table, to_row
from models import Assignment, Campaign, Requirement, Submission

StatusRow = TableRow


@dataclass(frozen=True)
class SubmissionInfo:
    """What the status rules read of a submission (satisfies rules.status.SubmissionFacts)."""

    assignment_id: int
    version: int
    received_at: datetime
    review_state: str
    channel: str


def campaign_status(
    session: Session, campaign: Campaign, *, now: datetime, requirement: str | None = None
) -> list[StatusRow]:
    """Status of every assignment of the campaign as of `now` (later submissions ignored),
    ordered by requirement and unit code."""
    query, _ = status_rows(now, campaign.id)
    if requirement:
        query = query.where(col(Requirement.code) == requirement)
    return [to_row(r) for r in session.execute(query)]


def campaign_statuses(session: Session, campaign: Campaign, *, now: datetime) -> dict[int, Status]:
    """Only each assignment's status: the lean recompute (no unit details, no datetimes)."""
    table = status_table(now, campaign.id)
    rows = session.execute(select_columns(table.c.assignment_id, table.c.status))
    return {assignment_id: _STATUS[status] for assignment_id, status in rows}


_STATUS = {s.value: s for s in Status}


def submissions_by_assignment(
    session: Session, campaign: Campaign, now: datetime
) -> dict[int, list[SubmissionInfo]]:
    """Every version received by `now`, per assignment, oldest first."""
    rows = session.execute(
        select_columns(
            col(Submission.assignment_id),
            col(Submission.version),
            col(Submission.received_at),
            col(Submission.review_state),
            col(Submission.channel),
        )
        .join(Assignment, col(Assignment.id) == Submission.assignment_id)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(col(Requirement.campaign_id) == campaign.id, col(Submission.received_at) <= now)
        .order_by(col(Submission.assignment_id), col(Submission.version))
    )
    grouped: dict[int, list[SubmissionInfo]] = defaultdict(list)
    for row in rows:
        grouped[row[0]].append(SubmissionInfo(*row))
    return grouped


def count_by_status(rows: Sequence[StatusRow]) -> Counter[Status]:
    return Counter(r.status for r in rows)
