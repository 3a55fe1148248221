"""What a consolidation is built from, read from the database as of one moment (the claim's):
each unit's counted version, its figures and files, the statuses, and the districts' own
consolidations when their submissions are roll-ups.

A constant number of queries whatever the number of units; the builders in dondoc.reports then
work on plain values."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from dondoc.completion import EXEMPT, RequirementFacts, counted_version, load_requirements
from dondoc.reports.model import ReportInput, StatusRow
from dondoc.rules import aggregate_codec
from dondoc.rules.aggregate import Aggregate, UnitFigures, aggregate, combine
from dondoc.rules.docnumber import DocNumberError, parse_doc_number
from dondoc.tracking import campaign_status
from models import (
    Assignment,
    Campaign,
    Consolidation,
    DistributionEntry,
    IndicatorDefinition,
    IndicatorValue,
    Requirement,
    Submission,
    SubmissionFile,
    Target,
    Unit,
)
from models.enums import DistributionRole


@dataclass(frozen=True)
class CountedUnit:
    assignment_id: int
    unit: Unit
    counted: str | None  # a version number, EXEMPT, or None (nothing counts)
    submission_id: int | None  # the counted version's row


@dataclass(frozen=True)
class UnitFile:
    unit_code: str
    unit_name: str
    name: str
    storage_path: str


@dataclass(frozen=True)
class Source:
    """Everything but the narratives (which need the files' bytes): see dondoc.consolidation."""

    campaign: Campaign
    requirement: Requirement
    as_of: datetime
    units: list[CountedUnit]
    definitions: list[IndicatorDefinition]
    targets: list[Target]
    figures: list[UnitFigures]
    children: dict[str, Aggregate]  # unit code -> the consolidation its roll-up carries
    status_rows: list[StatusRow]
    files: list[UnitFile]

    def aggregate(self) -> Aggregate:
        """The units' own figures; a unit whose submission is a roll-up adds its district's
        totals instead (equal to adding up all the district's units directly)."""
        direct = [f for f in self.figures if f.unit_code not in self.children]
        own = aggregate(self.definitions, self.targets, direct)
        if not self.children:
            return own
        parts = [own, *(self.children[code] for code in sorted(self.children))]
        return combine(self.definitions, self.targets, parts)


def read_source(session: Session, requirement_id: int, *, as_of: datetime) -> Source:
    requirement = session.get_one(Requirement, requirement_id)
    campaign = session.get_one(Campaign, requirement.campaign_id)
    facts = next(
        f
        for f in load_requirements(session, campaign, now=as_of)
        if f.requirement_id == requirement_id
    )
    units = _counted_units(session, facts, as_of)
    definitions = _definitions(session, requirement)
    keys = {d.key for d in definitions}
    counted_ids = {u.submission_id for u in units if u.submission_id}
    group = requirement.group_label or requirement.title
    return Source(
        campaign=campaign,
        requirement=requirement,
        as_of=as_of,
        units=units,
        definitions=definitions,
        targets=[t for t in _targets(session, campaign) if t.indicator in keys],
        figures=_figures(session, requirement_id, units, counted_ids, group),
        children=_children(session, requirement_id, units),
        status_rows=_status_rows(session, campaign, requirement, units, as_of, group),
        files=_files(session, requirement_id, units, counted_ids),
    )


def report_input(
    session: Session, source: Source, sections: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    *, tz: ZoneInfo,
) -> ReportInput:  # fmt: skip
    campaign, requirement = source.campaign, source.requirement
    issuer = session.get_one(Unit, campaign.issuer_unit_id)
    parent = session.get(Unit, issuer.parent_id) if issuer.parent_id else None
    return ReportInput(
        parent_body=parent.name if parent else "",
        issuer=issuer.name,
        number=report_number(campaign.doc_number),
        place=campaign.place or "",
        report_date=source.as_of.astimezone(tz).date(),
        summary=campaign.title,
        sections=sections,
        aggregate=source.aggregate(),
        indicators=source.definitions,
        units=source.figures,
        status_rows=source.status_rows,
        distribution=_distribution(session, campaign),
        signer_title=campaign.signer_title or "",
        signer_name=campaign.signer_name or "",
        targets_section=_targets_heading(requirement.outline),
        tz=tz,
    )


def report_number(plan_number: str) -> str:
    """The report's number to be filled in by the office, with the plan's issuer symbol:
    95/KH-LĐLĐ -> …/BC-LĐLĐ."""
    try:
        issuer = parse_doc_number(plan_number).issuer
    except DocNumberError:
        return "…/BC"
    return f"…/BC-{issuer}"


# --- the queries ------------------------------------------------------------------------------


def _counted_units(session: Session, facts: RequirementFacts, as_of: datetime) -> list[CountedUnit]:
    counted = {
        a.assignment_id: counted_version(a, review_required=facts.review_required, now=as_of)
        for a in facts.assignments
    }
    rows = session.exec(
        select(Assignment.id, Unit)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .where(Assignment.requirement_id == facts.requirement_id)
    ).all()
    versions = _submission_ids(session, facts.requirement_id, as_of)
    units = [
        CountedUnit(
            aid or 0, unit, counted[aid or 0], _submission(versions, aid, counted[aid or 0])
        )
        for aid, unit in rows
    ]
    return sorted(units, key=lambda u: u.unit.code)


def _submission_ids(
    session: Session, requirement_id: int, as_of: datetime
) -> dict[tuple[int, int], int]:
    rows = session.execute(
        select_columns(col(Submission.assignment_id), col(Submission.version), col(Submission.id))
        .join(Assignment, col(Assignment.id) == Submission.assignment_id)
        .where(
            col(Assignment.requirement_id) == requirement_id, col(Submission.received_at) <= as_of
        )
    )
    return {(aid, version): sid for aid, version, sid in rows}


def _submission(
    versions: Mapping[tuple[int, int], int], aid: int | None, counted: str | None
) -> int | None:
    if counted is None or counted == EXEMPT:
        return None
    return versions[(aid or 0, int(counted))]


def _definitions(session: Session, requirement: Requirement) -> list[IndicatorDefinition]:
    wanted = set(requirement.indicator_keys)
    rows = session.exec(
        select(IndicatorDefinition)
        .where(IndicatorDefinition.campaign_id == requirement.campaign_id)
        .order_by(col(IndicatorDefinition.position))
    )
    return [d for d in rows if d.key in wanted]


def _targets(session: Session, campaign: Campaign) -> list[Target]:
    return list(
        session.exec(
            select(Target).where(Target.campaign_id == campaign.id).order_by(col(Target.position))
        )
    )


def _of_requirement(statement: Any, submission_id: Any, requirement_id: int) -> Any:
    """Rows tied to the requirement's submissions, found by a join: the counted versions are
    then picked in Python. An IN list of 10 000 ids is slow to bind and plan on PostgreSQL and
    every such query paid for it."""
    return (
        statement.join(Submission, col(Submission.id) == submission_id)
        .join(Assignment, col(Assignment.id) == Submission.assignment_id)
        .where(col(Assignment.requirement_id) == requirement_id)
    )


def _figures(
    session: Session,
    requirement_id: int,
    units: Sequence[CountedUnit],
    counted_ids: Set[int],
    group: str,
) -> list[UnitFigures]:
    values: dict[int, dict[str, Decimal | str]] = defaultdict(dict)
    if counted_ids:
        columns = select_columns(
            col(IndicatorValue.submission_id),
            col(IndicatorValue.key),
            col(IndicatorValue.num_value),
            col(IndicatorValue.text_value),
        )
        rows = session.execute(
            _of_requirement(columns, IndicatorValue.submission_id, requirement_id)
        )
        for sid, key, number, text in rows:
            if sid not in counted_ids:
                continue
            value = number if number is not None else text
            if value is not None:
                values[sid][key] = Decimal(value) if number is not None else value
    return [
        UnitFigures(
            u.unit.code,
            u.unit.name,
            u.unit.sector,
            group,
            values.get(u.submission_id or 0, {}),
            exempt=u.counted == EXEMPT,
            submitted=u.submission_id is not None,
        )
        for u in units
    ]


def _children(
    session: Session, requirement_id: int, units: Sequence[CountedUnit]
) -> dict[str, Aggregate]:
    by_submission = {u.submission_id: u.unit.code for u in units if u.submission_id}
    if not by_submission:
        return {}
    columns = select_columns(col(Consolidation.rollup_submission_id), col(Consolidation.totals))
    rows = session.execute(
        _of_requirement(columns, Consolidation.rollup_submission_id, requirement_id)
    )
    return {
        by_submission[sid]: aggregate_codec.load(totals)
        for sid, totals in rows
        if sid in by_submission
    }


def _status_rows(
    session: Session,
    campaign: Campaign,
    requirement: Requirement,
    units: Sequence[CountedUnit],
    as_of: datetime,
    group: str,
) -> list[StatusRow]:
    """The status as of the claim; the version shown is the one counted (else the latest)."""
    counted = {u.assignment_id: u.counted for u in units}
    counted_ids = {u.submission_id for u in units if u.submission_id}
    received = _received_at(session, requirement.id or 0, counted_ids)
    by_id = {u.assignment_id: u for u in units}
    rows = []
    for row in campaign_status(session, campaign, now=as_of, requirement=requirement.code):
        version = counted.get(row.assignment_id)
        unit = by_id[row.assignment_id]
        if version is None or version == EXEMPT:
            at, number = row.last_received_at, row.last_version
        else:
            at, number = received[unit.submission_id or 0], int(version)
        rows.append(StatusRow(row.unit_code, row.unit_name, group, row.status, at, number))
    return rows


def _received_at(session: Session, requirement_id: int, ids: Set[int]) -> dict[int, datetime]:
    if not ids:
        return {}
    columns = select_columns(col(Submission.id), col(Submission.received_at))
    rows = session.execute(
        columns.join(Assignment, col(Assignment.id) == Submission.assignment_id).where(
            col(Assignment.requirement_id) == requirement_id
        )
    )
    return {sid: at for sid, at in rows if sid in ids}


def _files(
    session: Session, requirement_id: int, units: Sequence[CountedUnit], counted_ids: Set[int]
) -> list[UnitFile]:
    if not counted_ids:
        return []
    by_submission = {u.submission_id: u.unit for u in units if u.submission_id}
    query = _of_requirement(select(SubmissionFile), SubmissionFile.submission_id, requirement_id)
    rows = session.exec(query.order_by(col(SubmissionFile.submission_id), col(SubmissionFile.id)))
    return [
        UnitFile(
            by_submission[f.submission_id].code,
            by_submission[f.submission_id].name,
            f.name,
            f.storage_path,
        )
        for f in rows
        if f.submission_id in counted_ids
    ]


def _distribution(session: Session, campaign: Campaign) -> list[str]:
    """Nơi nhận of a report: those it reports to, then the file copy."""
    roles = (DistributionRole.REPORT_TO.value, DistributionRole.ARCHIVE.value)
    rows = session.exec(
        select(DistributionEntry)
        .where(DistributionEntry.campaign_id == campaign.id, col(DistributionEntry.role).in_(roles))
        .order_by(col(DistributionEntry.position))
    )
    return [r.recipient for r in rows]


def _targets_heading(outline: Sequence[str]) -> str | None:
    return next((h for h in outline if "chỉ tiêu" in h.casefold()), None)
