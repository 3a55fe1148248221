"""Receipts: the number a unit quotes for a submission, what its receipt shows, and the
acknowledgement put in the outbox for the unit's contacts who consented to email (sent by the
dispatcher, not by the request that took the submission)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from dondoc.notices import addressee, notice_rows, unit_context
from dondoc.outbox import enqueue
from dondoc.rules.figures import format_number
from dondoc.rules.status import effective_due
from dondoc.settings import Settings
from models import (
    Assignment,
    Campaign,
    IndicatorDefinition,
    IndicatorValue,
    Requirement,
    Submission,
    SubmissionFile,
    Unit,
)
from notifications.messages import AttachedFile, Kind

_NUMBER = re.compile(r"^BC-(?P<campaign>[0-9]+)-(?P<submission>[0-9]+)$")


def receipt_number(campaign_id: int, submission_id: int) -> str:
    """'BC-1-000042': báo cáo, campaign, submission. Unique, and short enough to read aloud."""
    return f"BC-{campaign_id}-{submission_id:06d}"


def parse_receipt_number(text: str) -> tuple[int, int] | None:
    """(campaign id, submission id) of a receipt number, or None if it is not one."""
    match = _NUMBER.match(text.strip().upper())
    return (int(match["campaign"]), int(match["submission"])) if match else None


@dataclass(frozen=True)
class FigureLine:
    key: str
    label: str
    value: str
    unit: str | None


@dataclass(frozen=True)
class Receipt:
    number: str
    campaign: Campaign
    requirement: Requirement
    unit: Unit
    submit_to: Unit
    submission: Submission
    files: list[SubmissionFile]
    figures: list[FigureLine]
    due_at: datetime  # the assignment's deadline, extension included

    @property
    def on_time(self) -> bool:
        return self.submission.received_at < self.due_at


def load_receipt(
    session: Session, submission_id: int, *, campaign_id: int, unit_id: int
) -> Receipt | None:
    """The receipt of one of this unit's submissions in this campaign; None for any other."""
    row = unit_submission(session, submission_id, campaign_id=campaign_id, unit_id=unit_id)
    if row is None:
        return None
    submission, assignment, requirement = row
    campaign = session.get(Campaign, campaign_id)
    unit, submit_to = session.get(Unit, unit_id), session.get(Unit, requirement.submit_to_unit_id)
    assert campaign is not None and unit is not None and submit_to is not None  # foreign keys
    return Receipt(
        number=receipt_number(campaign_id, submission_id),
        campaign=campaign,
        requirement=requirement,
        unit=unit,
        submit_to=submit_to,
        submission=submission,
        files=files_of(session, [submission_id]).get(submission_id, []),
        figures=_figures(session, campaign_id, submission_id),
        due_at=effective_due(requirement.due_at, assignment.extended_due_at),
    )


def unit_submission(
    session: Session, submission_id: int, *, campaign_id: int, unit_id: int
) -> tuple[Submission, Assignment, Requirement] | None:
    """A submission with its assignment and requirement, if it is this unit's in this
    campaign: a guessed id of another unit's submission finds nothing."""
    row = session.exec(
        select(Submission, Assignment, Requirement)
        .join(Assignment, col(Assignment.id) == Submission.assignment_id)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(
            Submission.id == submission_id,
            Assignment.unit_id == unit_id,
            Requirement.campaign_id == campaign_id,
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def enqueue_receipt(
    session: Session,
    submission_id: int,
    *,
    campaign_id: int,
    unit_id: int,
    settings: Settings,
    now: datetime,
) -> int:
    """Put the receipt for each consenting email address in the outbox (step
    "receipt-<submission id>": once per submission, whoever calls it twice); return how many
    rows are new. Call it in the transaction that records the submission: a submission and
    its receipt are committed together or not at all."""
    receipt = load_receipt(session, submission_id, campaign_id=campaign_id, unit_id=unit_id)
    if receipt is None:
        return 0
    to = addressee(session, receipt.submission.assignment_id)
    ctx = replace(
        unit_context(session, to, now=now, settings=settings),
        receipt_number=receipt.number,
        received_at=receipt.submission.received_at,
        version=receipt.submission.version,
        files=tuple(AttachedFile(f.name, f.size) for f in receipt.files),
        figures_count=len(receipt.figures),
    )
    rows = notice_rows(session, to, Kind.RECEIPT, ctx, step_key=f"receipt-{submission_id}",
                       now=now, settings=settings)  # fmt: skip
    return enqueue(session, rows, now=now)


@dataclass(frozen=True)
class HistoryRow:
    submission: Submission
    number: str
    files: list[SubmissionFile]


def history(
    session: Session, campaign_id: int, assignment_ids: list[int]
) -> dict[int, list[HistoryRow]]:
    """Each assignment's submissions, newest first, with their receipt numbers and files."""
    subs = session.exec(
        select(Submission)
        .where(col(Submission.assignment_id).in_(assignment_ids))
        .order_by(col(Submission.version).desc())
    ).all()
    files = files_of(session, [s.id or 0 for s in subs])
    grouped: dict[int, list[HistoryRow]] = {}
    for s in subs:
        row = HistoryRow(s, receipt_number(campaign_id, s.id or 0), files.get(s.id or 0, []))
        grouped.setdefault(s.assignment_id, []).append(row)
    return grouped


def files_of(session: Session, submission_ids: list[int]) -> dict[int, list[SubmissionFile]]:
    grouped: dict[int, list[SubmissionFile]] = {}
    if not submission_ids:
        return grouped
    rows = session.exec(
        select(SubmissionFile)
        .where(col(SubmissionFile.submission_id).in_(submission_ids))
        .order_by(col(SubmissionFile.id))
    )
    for f in rows:
        grouped.setdefault(f.submission_id, []).append(f)
    return grouped


def _figures(session: Session, campaign_id: int, submission_id: int) -> list[FigureLine]:
    rows = session.exec(
        select(IndicatorValue, IndicatorDefinition)
        .join(IndicatorDefinition, col(IndicatorDefinition.key) == IndicatorValue.key)
        .where(
            IndicatorValue.submission_id == submission_id,
            IndicatorDefinition.campaign_id == campaign_id,
        )
        .order_by(col(IndicatorDefinition.position))
    )
    return [
        FigureLine(d.key, d.label, figure_text(d.type, v.num_value, v.text_value), d.unit)
        for v, d in rows
    ]


def figure_text(kind: str, number: Decimal | None, text: str | None) -> str:
    if kind == "boolean" and number is not None:
        return "Có" if number else "Không"
    if number is not None:
        return format_number(number.normalize())
    return text or ""
