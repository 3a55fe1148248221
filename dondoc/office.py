"""What the office decides about an assignment: extensions, exemptions, reviews.
Each change is audited."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from dondoc.errors import DondocError
from dondoc.rules.deadlines import Deadline, format_deadline_vi
from dondoc.rules.status import effective_due
from models import Assignment, AuditEvent, Extension, Requirement, Submission
from models.enums import ReviewState


class ActionError(DondocError):
    pass


def _require(text: str | None, what: str) -> str:
    if not text or not text.strip():
        raise ActionError(f"a {what} is required")
    return text.strip()


def extend(
    session: Session,
    assignment: Assignment,
    requirement: Requirement,
    *,
    until: Deadline,
    reason: str,
    by: str,
    now: datetime,
    tz: ZoneInfo,
) -> Extension:
    """Grant a new deadline; each extension is a new deadline version."""
    reason = _require(reason, "reason")
    current = effective_due(requirement.due_at, assignment.extended_due_at)
    new_due = until.ends_at(tz)
    if new_due <= current:
        raise ActionError(
            f"the new deadline ({format_deadline_vi(new_due, tz)}) must be later than the "
            f"current one ({format_deadline_vi(current, tz)})"
        )
    assignment.deadline_version += 1
    assignment.extended_due_at = new_due
    ext = Extension(
        assignment_id=assignment.id or 0,
        version=assignment.deadline_version,
        due_at=new_due,
        due_text=until.text,
        reason=reason,
        granted_by=by,
        granted_at=now,
    )
    session.add_all([assignment, ext])
    _audit(session, assignment, "assignment.extended", by, now, {"due_at": new_due.isoformat()})
    session.flush()
    return ext


def exempt(
    session: Session, assignment: Assignment, *, reason: str, by: str, now: datetime
) -> None:
    assignment.exempt = True
    assignment.exempt_reason = _require(reason, "reason")
    assignment.exempted_by = by
    assignment.exempted_at = now
    session.add(assignment)
    _audit(session, assignment, "assignment.exempted", by, now, {"reason": reason})
    session.flush()


def review(
    session: Session,
    submission: Submission,
    assignment: Assignment,
    *,
    accept: bool,
    reason: str | None,
    by: str,
    now: datetime,
) -> None:
    """Accept a version, or return it for correction with a reason."""
    if submission.review_state != ReviewState.RECEIVED:
        raise ActionError(f"version {submission.version} was already {submission.review_state}")
    submission.review_state = (ReviewState.ACCEPTED if accept else ReviewState.RETURNED).value
    submission.return_reason = None if accept else _require(reason, "reason for returning")
    submission.reviewed_by, submission.reviewed_at = by, now
    session.add(submission)
    action = "submission.accepted" if accept else "submission.returned"
    _audit(session, assignment, action, by, now, {"version": submission.version})
    session.flush()


def _audit(
    session: Session,
    a: Assignment,
    action: str,
    by: str,
    now: datetime,
    details: dict[str, str | int],
) -> None:
    session.add(
        AuditEvent(
            at=now,
            actor=by,
            action=action,
            unit_id=a.unit_id,
            details={"assignment": a.id or 0, **details},
        )
    )
