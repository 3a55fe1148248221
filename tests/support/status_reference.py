"""The statuses as the pure rules compute them: the executable spec the SQL is checked against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from dondoc.rules.status import Status, assignment_status, effective_due
from dondoc.tracking import submissions_by_assignment
from models import Assignment, Campaign, Requirement


@dataclass(frozen=True)
class Expected:
    requirement_code: str
    status: Status
    versions: int
    due_at: datetime
    last_version: int | None


def statuses_by_rules(session: Session, campaign: Campaign, now: datetime) -> dict[int, Expected]:
    subs = submissions_by_assignment(session, campaign, now)
    rows = session.exec(
        select(Assignment, Requirement)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(Requirement.campaign_id == campaign.id)
    )
    expected = {}
    for a, r in rows:
        versions = subs.get(a.id or 0, [])
        due = effective_due(r.due_at, a.extended_due_at)
        status = assignment_status(due_at=due, exempt=a.exempt, submissions=versions, now=now)
        last = versions[-1].version if versions else None
        expected[a.id or 0] = Expected(r.code, status, len(versions), due, last)
    return expected
