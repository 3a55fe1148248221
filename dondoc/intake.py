"""Recording a submission: files stored durably first, then one new version row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, func, select

from dondoc.storage import StoredFile
from models import Assignment, AuditEvent, IndicatorValue, Submission, SubmissionFile
from models.enums import Channel, ReviewState


def next_version(session: Session, assignment_id: int) -> int:
    current = session.exec(
        select(func.max(Submission.version)).where(Submission.assignment_id == assignment_id)
    ).one()
    return int(current or 0) + 1


def record_submission(
    session: Session,
    *,
    assignment: Assignment,
    received_at: datetime,
    channel: Channel,
    files: Sequence[StoredFile] = (),
    values: Mapping[str, Decimal | str] | None = None,
    recorded_by: str | None = None,
    note: str | None = None,
    idempotency_key: str | None = None,
    source_ref: str | None = None,
    now: datetime,
) -> Submission:
    """Add a new version (never overwrite). The unique (assignment, version) constraint makes a
    concurrent duplicate fail instead of silently creating two rows with one number."""
    submission = Submission(
        assignment_id=assignment.id or 0,
        version=next_version(session, assignment.id or 0),
        received_at=received_at,
        channel=channel.value,
        recorded_by=recorded_by,
        note=note,
        review_state=ReviewState.RECEIVED.value,
        idempotency_key=idempotency_key,
        source_ref=source_ref,
    )
    session.add(submission)
    session.flush()
    sid = submission.id or 0
    for f in files:
        session.add(
            SubmissionFile(
                submission_id=sid,
                name=f.name,
                size=f.size,
                sha256=f.sha256,
                storage_path=f.storage_path,
            )
        )
    for key, value in (values or {}).items():
        number = value if isinstance(value, Decimal) else None
        text = value if isinstance(value, str) else None
        session.add(IndicatorValue(submission_id=sid, key=key, num_value=number, text_value=text))
    session.add(
        AuditEvent(
            at=now,
            actor=recorded_by or "unit",
            action="submission.received",
            unit_id=assignment.unit_id,
            details={
                "assignment": assignment.id,
                "version": submission.version,
                "channel": channel.value,
                "files": len(files),
            },
        )
    )
    session.flush()
    return submission


def versions(session: Session, assignment_id: int) -> list[Submission]:
    return list(
        session.exec(
            select(Submission)
            .where(Submission.assignment_id == assignment_id)
            .order_by(col(Submission.version))
        )
    )
