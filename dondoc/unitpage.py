"""What a unit must submit in a campaign, as its page shows it at `now`: each requirement's
effective deadline, status, time left in working days, whether intake has closed, the figures
to fill and the unit's own history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from dondoc.receipts import HistoryRow, history
from dondoc.rules.calendar import WorkingCalendar, WorkWeek
from dondoc.rules.status import (
    ReviewState,
    Status,
    assignment_status,
    effective_due,
    intake_closed,
)
from dondoc.settings import get_settings
from dondoc.xlsxform import form_fields
from models import Assignment, Campaign, Contact, IndicatorDefinition, Requirement, Submission, Unit
from models.enums import CampaignStatus

# Whom a unit should ask once intake has closed, in order of preference.
_CONTACT_ROLES = ("office", "chair", "vice_chair", "secretary")


@dataclass(frozen=True)
class Duty:
    """One requirement as its unit sees it at `now`."""

    requirement: Requirement
    assignment: Assignment
    submit_to: Unit
    contact: Contact | None  # whom to ask once intake has closed
    due_at: datetime
    status: Status
    time_left: str
    overdue: bool
    closed: bool
    fields: list[IndicatorDefinition]
    history: list[HistoryRow]  # newest first

    @property
    def open(self) -> bool:
        return not self.closed and not self.assignment.exempt

    @property
    def returned(self) -> Submission | None:
        latest = self.history[0].submission if self.history else None
        return latest if latest and latest.review_state == ReviewState.RETURNED else None


def time_left(due_at: datetime, now: datetime, calendar: WorkingCalendar, tz: ZoneInfo) -> str:
    """Working days after today up to the last day on time (that day included)."""
    if now >= due_at:
        return "Quá hạn"
    today = now.astimezone(tz).date()
    last_day = (due_at.astimezone(tz) - timedelta(microseconds=1)).date()
    if last_day == today:
        return "Hôm nay là ngày cuối cùng của hạn nộp"
    days = calendar.working_days_between(today, last_day)
    return f"Còn {days} ngày làm việc" if days else "Không còn ngày làm việc nào trước hạn nộp"


def duties(
    session: Session, campaign: Campaign, unit: Unit, now: datetime, code: str | None = None
) -> list[Duty]:
    """The unit's requirements in the campaign (or the one named), as the unit sees them."""
    query = (
        select(Assignment, Requirement)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(Requirement.campaign_id == campaign.id, Assignment.unit_id == unit.id)
        .order_by(col(Requirement.position), col(Requirement.id))
    )
    if code is not None:
        query = query.where(Requirement.code == code)
    pairs = session.exec(query).all()
    past = history(session, campaign.id or 0, [a.id or 0 for a, _ in pairs])
    return [_duty(session, campaign, unit, a, r, past.get(a.id or 0, []), now) for a, r in pairs]


def _duty(
    session: Session,
    campaign: Campaign,
    unit: Unit,
    assignment: Assignment,
    requirement: Requirement,
    rows: list[HistoryRow],
    now: datetime,
) -> Duty:
    due = effective_due(requirement.due_at, assignment.extended_due_at)
    submit_to = session.get(Unit, requirement.submit_to_unit_id)
    assert submit_to is not None  # foreign key
    subs = [row.submission for row in rows]
    calendar = WorkingCalendar(WorkWeek(unit.calendar))
    return Duty(
        requirement=requirement,
        assignment=assignment,
        submit_to=submit_to,
        contact=_contact(session, submit_to.id or 0),
        due_at=due,
        status=assignment_status(due_at=due, exempt=assignment.exempt, submissions=subs, now=now),
        time_left=time_left(due, now, calendar, get_settings().tz),
        overdue=now >= due,
        closed=campaign.status == CampaignStatus.CLOSED
        or intake_closed(requirement.hard_close_at, due, now),
        fields=form_fields(session, requirement, unit),
        history=rows,
    )


def _contact(session: Session, unit_id: int) -> Contact | None:
    contacts = {c.role: c for c in session.exec(select(Contact).where(Contact.unit_id == unit_id))}
    return next((contacts[r] for r in _CONTACT_ROLES if r in contacts), None)
