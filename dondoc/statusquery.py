"""Every assignment's status as one SQL query, for the CLI, the tracking flow and the office
dashboard alike.

The CASE expression mirrors dondoc.rules.status.assignment_status, the executable spec; a test
(tests/test_web_office.py, "the SQL statuses agree with the rules") holds the two together on a
mixed campaign with edge cases at several moments.
Computed in the database, a campaign of 100,000 assignments is counted and paged without
loading its submissions into Python (bench/status_bench.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, Subquery, and_, case, func, union_all
from sqlalchemy import select as select_columns
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from dondoc.rules.status import ReviewState, Status
from models import Assignment, Requirement, Submission, Unit


class TableRow(NamedTuple):
    """One assignment's row (a named tuple: 10,000 of them are built at once)."""

    assignment_id: int
    submission_id: int | None  # the latest version received as of `now`
    unit_code: str
    unit_name: str
    requirement_code: str
    requirement_label: str
    sector: str | None
    ward: str | None
    status: Status
    due_at: datetime
    extended: bool
    versions: int
    last_version: int | None
    last_received_at: datetime | None
    last_channel: str | None
    last_review_state: str | None


def status_table(
    now: datetime, campaign_id: int | None = None, *, only: Sequence[int] | None = None
) -> Subquery:
    """One row per assignment (of the campaign; of `only` when given): its effective
    deadline, status as of `now` and latest version."""
    scope = select(Assignment.id).join(
        Requirement, col(Requirement.id) == Assignment.requirement_id
    )
    if campaign_id is not None:
        scope = scope.where(Requirement.campaign_id == campaign_id)
    if only is not None:
        scope = scope.where(col(Assignment.id).in_(only))
    received = (
        select(
            col(Submission.assignment_id).label("assignment_id"),
            func.min(Submission.received_at).label("first_at"),
            func.max(Submission.version).label("last_version"),
            func.count().label("versions"),
        )
        .where(col(Submission.received_at) <= now, col(Submission.assignment_id).in_(scope))
        .group_by(col(Submission.assignment_id))
        .subquery("received")
    )
    latest = aliased(Submission, name="latest")
    extended = col(Assignment.extended_due_at)
    # effective_due: an extension never shortens the deadline.
    due = case((extended > Requirement.due_at, extended), else_=col(Requirement.due_at))
    status = case(
        (col(Assignment.exempt).is_(True), Status.EXEMPT.value),
        (
            received.c.first_at.is_(None),
            case((due > now, Status.PENDING.value), else_=Status.OVERDUE.value),
        ),
        (col(latest.review_state) == ReviewState.RETURNED.value, Status.RETURNED.value),
        (received.c.first_at < due, Status.ON_TIME.value),
        else_=Status.LATE.value,
    )
    # sqlalchemy's select: sqlmodel's typed overloads stop at four columns.
    query = (
        select_columns(
            col(Assignment.id).label("assignment_id"),
            col(Assignment.requirement_id).label("requirement_id"),
            col(Assignment.unit_id).label("unit_id"),
            col(Requirement.campaign_id).label("campaign_id"),
            due.label("due_at"),
            extended.is_not(None).label("extended"),
            status.label("status"),
            func.coalesce(received.c.versions, 0).label("versions"),
            col(latest.id).label("submission_id"),
            col(latest.version).label("last_version"),
            col(latest.received_at).label("last_received_at"),
            col(latest.channel).label("last_channel"),
            col(latest.review_state).label("last_review_state"),
        )
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .outerjoin(received, received.c.assignment_id == Assignment.id)
        .outerjoin(
            latest,
            and_(
                col(latest.assignment_id) == Assignment.id,
                col(latest.version) == received.c.last_version,
            ),
        )
    )
    if campaign_id is not None:
        query = query.where(col(Requirement.campaign_id) == campaign_id)
    if only is not None:
        query = query.where(col(Assignment.id).in_(only))
    return query.subquery("status_table")


def status_rows(
    now: datetime, campaign_id: int | None, *, only: Sequence[int] | None = None
) -> tuple[Select[Any], Subquery]:
    """The status table with who each row is about, in table order (requirement, unit)."""
    table = status_table(now, campaign_id, only=only)
    query = (
        select_columns(
            table,
            col(Unit.code).label("unit_code"),
            col(Unit.name).label("unit_name"),
            col(Unit.short_name).label("unit_short_name"),
            col(Unit.sector).label("sector"),
            col(Unit.ward).label("ward"),
            col(Requirement.code).label("requirement_code"),
            func.coalesce(Requirement.group_label, Requirement.code).label("requirement_label"),
        )
        .join(Unit, col(Unit.id) == table.c.unit_id)
        .join(Requirement, col(Requirement.id) == table.c.requirement_id)
        .order_by(col(Requirement.position), col(Unit.code), table.c.assignment_id)
    )
    return query, table


def status_window(
    session: Session, campaign_id: int, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The last moment at or before `now` and the first after it at which a status of the
    campaign can change with time alone (None: no such moment): a deadline passing (the plan's
    or an extension's) or a report's time of receipt arriving (one recorded ahead of time).
    Between the two, every status as of `now` stays the same."""
    in_campaign = col(Requirement.campaign_id) == campaign_id
    moments = union_all(
        select_columns(col(Requirement.due_at).label("at")).where(in_campaign),
        select_columns(col(Assignment.extended_due_at))
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(in_campaign, col(Assignment.extended_due_at).is_not(None)),
        select_columns(col(Submission.received_at))
        .join(Assignment, col(Assignment.id) == Submission.assignment_id)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(in_campaign),
    ).subquery("moments")
    at = moments.c.at
    since, until = session.execute(
        select_columns(func.max(case((at <= now, at))), func.min(case((at > now, at))))
    ).one()
    return since, until


_STATUSES = {s.value: s for s in Status}


def to_row(row: Row[Any]) -> TableRow:
    m = row._mapping
    return TableRow(
        assignment_id=m["assignment_id"],
        submission_id=m["submission_id"],
        unit_code=m["unit_code"],
        unit_name=m["unit_name"],
        requirement_code=m["requirement_code"],
        requirement_label=m["requirement_label"],
        sector=m["sector"],
        ward=m["ward"],
        status=_STATUSES[m["status"]],
        due_at=m["due_at"],
        extended=bool(m["extended"]),
        versions=m["versions"],
        last_version=m["last_version"],
        last_received_at=m["last_received_at"],
        last_channel=m["last_channel"],
        last_review_state=m["last_review_state"],
    )
