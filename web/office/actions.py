"""What the office does on a unit's page: record a report received on paper, by email or by
Zalo; accept or return a version; grant an extension; exempt; re-issue the upload link.
Every form is a POST with the session's CSRF token, answered by a redirect to the unit page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from dondoc import office
from dondoc.links import link_url
from dondoc.office import ActionError
from dondoc.rules.deadlines import DeadlineError, format_deadline_vi, parse_deadline
from dondoc.rules.status import effective_due
from dondoc.settings import get_settings
from models import Assignment, Campaign, Requirement, Submission, Unit
from web.deps import DB, Now
from web.office.common import (
    REVEAL,
    Csrf,
    FormUser,
    assignment_or_404,
    campaign_or_404,
    done,
    unit_or_404,
    unit_url,
)

router = APIRouter()
Field = Annotated[str, Form()]
UNIT = "/c/{code}/u/{unit_code}"


@router.post(UNIT + "/review")
def review(
    request: Request,
    code: str,
    unit_code: str,
    session: DB,
    now: Now,
    user: FormUser,
    _: Csrf,
    submission_id: Field = "",
    decision: Field = "",
    reason: Field = "",
) -> Response:
    campaign, unit = campaign_or_404(session, code), unit_or_404(session, unit_code)
    url = unit_url(campaign, unit)
    found = _version(session, campaign, unit, submission_id)
    if found is None or decision not in ("accept", "return"):
        return done(request, session, url, "Không tìm thấy phiên bản này.", "error")
    submission, assignment, requirement = found
    accept = decision == "accept"
    if not accept and not reason.strip():
        return done(request, session, url, "Cần ghi rõ nội dung đề nghị bổ sung.", "error")
    try:
        office.review(
            session, submission, assignment, accept=accept, reason=reason, by=user.username, now=now
        )
    except ActionError:
        return done(request, session, url, "Phiên bản này đã được xem xét trước đó.", "error")
    if accept:
        return done(request, session, url, f"Đã chấp nhận báo cáo phiên bản {submission.version}.")
    session.commit()  # the decision stands even if no message can be sent
    outcome = office.notify_returned(
        session,
        campaign=campaign,
        requirement=requirement,
        assignment=assignment,
        unit=unit,
        submission=submission,
        settings=get_settings(),
        by=user.username,
        now=now,
    )
    text = f"Đã trả lại phiên bản {submission.version} để bổ sung. " + _notice_text(outcome)
    return done(request, session, url, text, "error" if outcome.failed else "ok")


def _version(
    session: Session, campaign: Campaign, unit: Unit, submission_id: str
) -> tuple[Submission, Assignment, Requirement] | None:
    """A version of this unit's report in this campaign (an id from elsewhere finds nothing)."""
    if not submission_id.isdigit():
        return None
    return session.exec(
        select(Submission, Assignment, Requirement)
        .join(Assignment, col(Assignment.id) == Submission.assignment_id)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(
            Submission.id == int(submission_id),
            Assignment.unit_id == unit.id,
            Requirement.campaign_id == campaign.id,
        )
    ).first()


def _notice_text(outcome: office.NoticeOutcome) -> str:
    if outcome.sent == outcome.failed == 0:
        return (
            "Đơn vị chưa có địa chỉ thư điện tử hoặc Zalo đồng ý nhận thông báo: "
            "hãy báo cho đơn vị qua kênh khác."
        )
    text = f"Đã gửi thông báo tới {outcome.sent} địa chỉ (thư điện tử hoặc Zalo)."
    if outcome.failed:
        text += f" Gửi không thành công tới {outcome.failed} địa chỉ (xem lịch sử)."
    return text


@router.post(UNIT + "/extend")
def extend(
    request: Request,
    code: str,
    unit_code: str,
    session: DB,
    now: Now,
    user: FormUser,
    _: Csrf,
    requirement: Field = "",
    until: Field = "",
    reason: Field = "",
) -> Response:
    campaign, unit = campaign_or_404(session, code), unit_or_404(session, unit_code)
    assignment, req = assignment_or_404(session, campaign, unit, requirement)
    url, tz = unit_url(campaign, unit), get_settings().tz
    if not reason.strip():
        return done(request, session, url, "Cần ghi lý do gia hạn.", "error")
    try:
        deadline = parse_deadline(until)
    except DeadlineError:
        text = (
            "Không đọc được hạn mới. Viết ví dụ: “đến hết ngày 27/11/2015” hoặc “27/11/2015 17:00”."
        )
        return done(request, session, url, text, "error")
    current = effective_due(req.due_at, assignment.extended_due_at)
    try:
        ext = office.extend(
            session,
            assignment,
            req,
            until=deadline,
            reason=reason,
            by=user.username,
            now=now,
            tz=tz,
        )
    except ActionError:
        text = f"Hạn mới phải sau hạn hiện tại ({format_deadline_vi(current, tz)})."
        return done(request, session, url, text, "error")
    return done(request, session, url, f"Đã gia hạn đến {format_deadline_vi(ext.due_at, tz)}.")


@router.post(UNIT + "/exempt")
def exempt(
    request: Request,
    code: str,
    unit_code: str,
    session: DB,
    now: Now,
    user: FormUser,
    _: Csrf,
    requirement: Field = "",
    reason: Field = "",
) -> Response:
    campaign, unit = campaign_or_404(session, code), unit_or_404(session, unit_code)
    assignment, _req = assignment_or_404(session, campaign, unit, requirement)
    url = unit_url(campaign, unit)
    if assignment.exempt:
        return done(request, session, url, "Đơn vị đã được miễn nộp trước đó.")
    if not reason.strip():
        return done(request, session, url, "Cần ghi lý do miễn nộp.", "error")
    office.exempt(session, assignment, reason=reason.strip(), by=user.username, now=now)
    return done(request, session, url, "Đã miễn nộp báo cáo cho đơn vị.")


@router.post(UNIT + "/link")
def reissue_link(
    request: Request, code: str, unit_code: str, session: DB, now: Now, user: FormUser, _: Csrf
) -> Response:
    campaign, unit = campaign_or_404(session, code), unit_or_404(session, unit_code)
    assignment_or_404(session, campaign, unit)  # no link for a unit with nothing to submit
    settings = get_settings()
    token = office.reissue_link(
        session,
        campaign_id=campaign.id or 0,
        unit_id=unit.id or 0,
        secret=settings.secret(),
        by=user.username,
        now=now,
    )
    # Shown once, on the next page only: the session keeps it for one redirect.
    request.session[REVEAL] = link_url(settings.public_base_url, token)
    text = "Đã cấp đường dẫn mới; đường dẫn cũ không còn dùng được."
    return done(request, session, unit_url(campaign, unit), text)
