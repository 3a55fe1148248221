"""Each unit's status in a campaign at a given moment: two queries, then the pure rules."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from dondoc.rules.status import Status, assignment_status, effective_due
from models import Assignment, Campaign, Requirement, Submission, Unit


@dataclass(frozen=True)
class SubmissionInfo:
    assignment_id: int
    version: int
    received_at: datetime
    review_state: str
    channel: str


@dataclass(frozen=True)
class StatusRow:
    assignment_id: int
    requirement_code: str
    unit_code: str
    unit_name: str
    sector: str | None
    ward: str | None
    status: Status
    due_at: datetime
    extended: bool
    versions: int
    last: SubmissionInfo | None


def campaign_status(
    session: Session, campaign: Campaign, *, now: datetime, requirement: str | None = None
) -> list[StatusRow]:
    """Status of every assignment of the campaign as of `now` (later submissions ignored)."""
    query = (
        select(Assignment, Requirement.code, Requirement.due_at, Unit)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .where(Requirement.campaign_id == campaign.id)
        .order_by(col(Requirement.position), col(Unit.code))
    )
    if requirement:
        query = query.where(Requirement.code == requirement)
    submissions = _submissions(session, campaign, now)
    return [
        _row(a, code, due, unit, submissions.get(a.id or 0, []), now)
        for a, code, due, unit in session.exec(query)
    ]


def _submissions(
    session: Session, campaign: Campaign, now: datetime
) -> dict[int, list[SubmissionInfo]]:
    rows = session.exec(
        select(  # type: ignore[call-overload]  # five columns: past sqlmodel's typed overloads
            Submission.assignment_id,
            Submission.version,
            Submission.received_at,
            Submission.review_state,
            Submission.channel,
        )
        .join(Assignment, col(Assignment.id) == Submission.assignment_id)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(Requirement.campaign_id == campaign.id, col(Submission.received_at) <= now)
        .order_by(col(Submission.assignment_id), col(Submission.version))
    )
    grouped: dict[int, list[SubmissionInfo]] = defaultdict(list)
    for row in rows:
        grouped[row[0]].append(SubmissionInfo(*row))
    return grouped


def _row(
    a: Assignment,
    code: str,
    requirement_due: datetime,
    unit: Unit,
    subs: list[SubmissionInfo],
    now: datetime,
) -> StatusRow:
    due = effective_due(requirement_due, a.extended_due_at)
    status = assignment_status(due_at=due, exempt=a.exempt, submissions=subs, now=now)
    return StatusRow(
        assignment_id=a.id or 0,
        requirement_code=code,
        unit_code=unit.code,
        unit_name=unit.name,
        sector=unit.sector,
        ward=unit.ward,
        status=status,
        due_at=due,
        extended=a.extended_due_at is not None,
        versions=len(subs),
        last=subs[-1] if subs else None,
    )


def count_by_status(rows: list[StatusRow]) -> Counter[Status]:
    return Counter(r.status for r in rows)
