"""What the office decides about an assignment: extensions, exemptions, reviews.
Each change is audited."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col

from dondoc.errors import DondocError
from dondoc.links import issue_link
from dondoc.notices import Addressee, consenting_emails, notice_rows, unit_context
from dondoc.outbox import enqueue
from dondoc.rules.deadlines import Deadline, format_deadline_vi
from dondoc.rules.status import effective_due
from dondoc.settings import Settings
from models import (
    Assignment,
    AuditEvent,
    Campaign,
    Extension,
    Requirement,
    Submission,
    Unit,
)
from models.enums import ReviewState
from notifications.messages import Kind


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
    """Accept a version, or return it for correction with a reason.

    The conditional UPDATE is the claim: of two reviewers clicking at once, exactly one
    changes the row (and so sends the notice); the other gets ActionError."""
    state = (ReviewState.ACCEPTED if accept else ReviewState.RETURNED).value
    reason = None if accept else _require(reason, "reason for returning")
    claimed = session.execute(
        update(Submission)
        .where(
            col(Submission.id) == submission.id,
            col(Submission.review_state) == ReviewState.RECEIVED.value,
        )
        .values(review_state=state, return_reason=reason, reviewed_by=by, reviewed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise ActionError(f"version {submission.version} was already reviewed")
    session.refresh(submission)
    action = "submission.accepted" if accept else "submission.returned"
    details: dict[str, str | int] = {"version": submission.version}
    if reason:
        details["reason"] = reason  # the office's history says why, not only which version
    _audit(session, assignment, action, by, now, details)
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


def reissue_link(
    session: Session, *, campaign_id: int, unit_id: int, secret: bytes, by: str, now: datetime
) -> str:
    """Revoke the unit's link and issue a new one; return the new token (shown once)."""
    token = issue_link(
        session, campaign_id=campaign_id, unit_id=unit_id, secret=secret, by=by, now=now
    )
    session.add(
        AuditEvent(
            at=now, actor=by, action="link.reissued", campaign_id=campaign_id, unit_id=unit_id
        )
    )
    session.flush()
    return token


@dataclass(frozen=True)
class NoticeOutcome:
    sent: int  # messages handed to the outbox (the dispatcher sends them)
    failed: int


def notify_returned(
    session: Session,
    *,
    campaign: Campaign,
    requirement: Requirement,
    assignment: Assignment,
    unit: Unit,
    submission: Submission,
    settings: Settings,
    by: str,
    now: datetime,
) -> NoticeOutcome:
    """Put in the outbox, for each of the unit's contacts who can get it (email, or Zalo for those
    who read Zalo only: notices.notice_rows), the notice that
    a version was returned, with what to correct and the unit's link (step "returned-<id>":
    once per version). Nothing is sent here, so the office's request never waits on SMTP;
    the unit page lists each message and its outcome."""
    to = Addressee(campaign=campaign, requirement=requirement, assignment=assignment, unit=unit)
    ctx = replace(
        unit_context(session, to, now=now, settings=settings),
        version=submission.version,
        received_at=submission.received_at,
        return_reason=submission.return_reason,
    )
    rows = notice_rows(session, to, Kind.RETURNED, ctx, step_key=f"returned-{submission.id}",
                       now=now, settings=settings)  # fmt: skip
    enqueue(session, rows, now=now)
    session.flush()
    return NoticeOutcome(sent=len(rows), failed=0)


def consented_emails(session: Session, unit_id: int) -> list[str]:
    return [address for address, _ in consenting_emails(session, unit_id)]
