"""What the office decides about an assignment: extensions, exemptions, reviews.
Each change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from dondoc.errors import DondocError
from dondoc.links import issue_link, link_url, token_for
from dondoc.rules.deadlines import Deadline, format_deadline_vi
from dondoc.rules.status import effective_due
from dondoc.settings import Settings
from models import (
    Assignment,
    AuditEvent,
    Campaign,
    Contact,
    Extension,
    Requirement,
    Submission,
    Unit,
)
from models.enums import ReviewState
from notifications.email import Email, EmailError, mask, send_email


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
    sent: int
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
    """Email the unit's contacts who consented that a version was returned, with its link.
    Call it after the return is committed: a failed send must not undo the decision. Each
    attempt is audited with the address masked."""
    token = token_for(
        session,
        campaign_id=campaign.id or 0,
        unit_id=unit.id or 0,
        secret=settings.secret(),
        by=by,
        now=now,
    )
    subject, body = return_notice(
        campaign=campaign,
        requirement=requirement,
        unit=unit,
        submission=submission,
        due_at=effective_due(requirement.due_at, assignment.extended_due_at),
        link=link_url(settings.public_base_url, token),
        tz=settings.tz,
    )
    sent = failed = 0
    for address in consented_emails(session, unit.id or 0):
        details: dict[str, str | int] = {"to": mask(address), "version": submission.version}
        try:
            send_email(Email(address, subject, body), settings)
        except EmailError as exc:
            failed += 1
            details |= {"error": str(exc), "permanent": int(exc.permanent)}
        else:
            sent += 1
        action = "notice.failed" if "error" in details else "notice.sent"
        _audit(session, assignment, action, by, now, details)
    session.flush()
    return NoticeOutcome(sent, failed)


def consented_emails(session: Session, unit_id: int) -> list[str]:
    contacts = session.exec(
        select(Contact)
        .where(Contact.unit_id == unit_id, col(Contact.consent_email).is_(True))
        .order_by(col(Contact.id))
    )
    return list(dict.fromkeys(c.email for c in contacts if c.email))


def return_notice(
    *,
    campaign: Campaign,
    requirement: Requirement,
    unit: Unit,
    submission: Submission,
    due_at: datetime,
    link: str,
    tz: ZoneInfo,
) -> tuple[str, str]:
    """Subject and body (Vietnamese) of the message telling a unit to correct its report."""
    received = submission.received_at.astimezone(tz)
    subject = f"Đề nghị bổ sung báo cáo: {requirement.title}"
    body = "\n".join(
        [
            f"Kính gửi: {unit.name}",
            "",
            f"Văn phòng đã xem báo cáo của đơn vị theo {campaign.doc_number} "
            f"({requirement.title}), phiên bản {submission.version} nhận lúc "
            f"{received:%H:%M} ngày {received:%d/%m/%Y}, và đề nghị đơn vị bổ sung, chỉnh sửa:",
            "",
            submission.return_reason or "",
            "",
            f"Hạn nộp: {format_deadline_vi(due_at, tz)}.",
            "Đơn vị vui lòng gửi lại báo cáo đã chỉnh sửa qua đường dẫn riêng của đơn vị:",
            link,
            "(Đường dẫn chỉ dành cho đơn vị, xin không chuyển tiếp.)",
            "",
            "Trân trọng.",
        ]
    )
    return subject, body
