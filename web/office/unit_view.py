"""Everything the unit page shows about one unit in one campaign, read in a few small queries
(a unit has a handful of assignments and versions); statuses come from the pure rules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlmodel import Session, col, select

from dondoc.links import active_link
from dondoc.rules.figures import format_number
from dondoc.rules.status import Status, assignment_status, effective_due
from models import (
    Assignment,
    AuditEvent,
    Campaign,
    Contact,
    Delivery,
    Extension,
    IndicatorDefinition,
    IndicatorValue,
    Requirement,
    Submission,
    SubmissionFile,
    Unit,
    UploadLink,
)
from models.enums import IndicatorType

T = TypeVar("T")


@dataclass(frozen=True)
class FigureView:
    key: str
    label: str
    text: str


@dataclass(frozen=True)
class VersionView:
    submission: Submission
    files: list[SubmissionFile]
    figures: list[FigureView]


@dataclass(frozen=True)
class AssignmentView:
    assignment: Assignment
    requirement: Requirement
    status: Status
    due_at: datetime
    extensions: list[Extension]
    versions: list[VersionView]  # newest first
    indicators: list[IndicatorDefinition]  # what this unit reports, in form order


@dataclass(frozen=True)
class UnitDetail:
    unit: Unit
    contacts: list[Contact]
    assignments: list[AssignmentView]
    events: list[AuditEvent]  # newest first
    link: UploadLink | None
    deliveries: list[Delivery]  # reminders and notices to this unit, newest first


def unit_detail(session: Session, campaign: Campaign, unit: Unit, *, now: datetime) -> UnitDetail:
    pairs = session.exec(
        select(Assignment, Requirement)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(Requirement.campaign_id == campaign.id, Assignment.unit_id == unit.id)
        .order_by(col(Requirement.position))
    ).all()
    ids = [a.id or 0 for a, _ in pairs]
    definitions = list(
        session.exec(
            select(IndicatorDefinition)
            .where(IndicatorDefinition.campaign_id == campaign.id)
            .order_by(col(IndicatorDefinition.position))
        )
    )
    versions = _versions(session, ids, definitions)
    extensions = _group(
        session.exec(
            select(Extension)
            .where(col(Extension.assignment_id).in_(ids))
            .order_by(col(Extension.version))
        ),
        lambda e: e.assignment_id,
    )
    views = [
        _assignment_view(a, r, versions[a.id or 0], extensions[a.id or 0], definitions, unit, now)
        for a, r in pairs
    ]
    return UnitDetail(
        unit=unit,
        contacts=list(
            session.exec(
                select(Contact).where(Contact.unit_id == unit.id).order_by(col(Contact.id))
            )
        ),
        assignments=views,
        events=_events(session, campaign, unit, set(ids)),
        link=active_link(session, campaign.id or 0, unit.id or 0),
        deliveries=list(
            session.exec(
                select(Delivery)
                .where(col(Delivery.assignment_id).in_(ids))
                .order_by(col(Delivery.not_before).desc(), col(Delivery.id).desc())
            )
        ),
    )


def _assignment_view(
    a: Assignment,
    r: Requirement,
    versions: list[VersionView],
    extensions: list[Extension],
    definitions: list[IndicatorDefinition],
    unit: Unit,
    now: datetime,
) -> AssignmentView:
    due = effective_due(r.due_at, a.extended_due_at)
    subs = [v.submission for v in versions]
    status = assignment_status(due_at=due, exempt=a.exempt, submissions=subs, now=now)
    entered = [
        d
        for d in definitions
        if d.key in r.indicator_keys
        and d.type != IndicatorType.DERIVED
        and (not d.sectors or unit.sector in d.sectors)
    ]
    return AssignmentView(a, r, status, due, extensions, versions[::-1], entered)


def _versions(
    session: Session, assignment_ids: list[int], definitions: list[IndicatorDefinition]
) -> defaultdict[int, list[VersionView]]:
    submissions = list(
        session.exec(
            select(Submission)
            .where(col(Submission.assignment_id).in_(assignment_ids))
            .order_by(col(Submission.version))
        )
    )
    sids = [s.id or 0 for s in submissions]
    files = _group(
        session.exec(
            select(SubmissionFile)
            .where(col(SubmissionFile.submission_id).in_(sids))
            .order_by(col(SubmissionFile.id))
        ),
        lambda f: f.submission_id,
    )
    values = _group(
        session.exec(select(IndicatorValue).where(col(IndicatorValue.submission_id).in_(sids))),
        lambda v: v.submission_id,
    )
    out: defaultdict[int, list[VersionView]] = defaultdict(list)
    for s in submissions:
        figures = _figures(definitions, values[s.id or 0])
        out[s.assignment_id].append(VersionView(s, files[s.id or 0], figures))
    return out


def _figures(
    definitions: list[IndicatorDefinition], values: list[IndicatorValue]
) -> list[FigureView]:
    by_key = {v.key: v for v in values}
    return [
        FigureView(d.key, d.label, figure_text(d, by_key[d.key]))
        for d in definitions
        if d.key in by_key
    ]


def figure_text(d: IndicatorDefinition, v: IndicatorValue) -> str:
    """'1.250 người', 'Có', 'VM'."""
    if v.text_value is not None:
        return v.text_value
    if v.num_value is None:
        return "—"
    if d.type == IndicatorType.BOOLEAN:
        return "Có" if v.num_value else "Không"
    number = format_number(v.num_value.normalize())
    return f"{number} {d.unit}" if d.unit else number


def _events(
    session: Session, campaign: Campaign, unit: Unit, assignment_ids: set[int]
) -> list[AuditEvent]:
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.unit_id == unit.id)
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(500)
    )
    return [
        e
        for e in events
        if e.campaign_id == campaign.id or (e.details or {}).get("assignment") in assignment_ids
    ]


def _group(rows: Iterable[T], key: Callable[[T], int]) -> defaultdict[int, list[T]]:
    out: defaultdict[int, list[T]] = defaultdict(list)
    for row in rows:
        out[key(row)].append(row)
    return out
