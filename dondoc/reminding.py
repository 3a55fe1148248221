"""Planning reminders for a campaign at `now`: which unit gets which step on which channel,
who is skipped and why. A handful of queries per campaign, then the pure rules
(dondoc.rules.reminders) per assignment; the result goes into the outbox (or, for a preview,
nowhere). Sending re-checks eligibility (`recheck`), because a unit may submit, be exempted or
get an extension between planning and sending."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from dondoc.links import link_url, token_for
from dondoc.outbox import NewDelivery
from dondoc.rules.calendar import DayOverride, WorkingCalendar, WorkWeek
from dondoc.rules.reminders import (
    DEFAULT_POLICY,
    ReminderPolicy,
    Step,
    StepKind,
    due_step,
    eligibility,
    working_days_left,
)
from dondoc.rules.status import Status, assignment_status, effective_due, intake_closed
from dondoc.settings import Settings
from dondoc.statusquery import status_table
from models import (
    Assignment,
    CalendarDay,
    Campaign,
    Contact,
    Delivery,
    Requirement,
    Submission,
    Unit,
)
from notifications.messages import Kind, MessageContext, render_email, zalo_params

ACTOR = "reminders"
# Ordinary reminders go to the people who prepare the report; the chair joins on escalation.
WORKING_ROLES = ("office", "secretary", "vice_chair")
KIND_OF_STEP = {
    StepKind.BEFORE: Kind.BEFORE,
    StepKind.DUE_DAY: Kind.DUE_TODAY,
    StepKind.OVERDUE: Kind.OVERDUE,
}


@dataclass(frozen=True)
class Target:
    """One assignment as the planner needs it."""

    assignment_id: int
    requirement: Requirement
    unit: Unit
    status: Status
    due_at: datetime
    deadline_version: int


@dataclass(frozen=True)
class Skipped:
    unit_code: str
    requirement_code: str
    reason: str


@dataclass
class Plan:
    deliveries: list[NewDelivery] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def calendar_overrides(session: Session) -> list[DayOverride]:
    return [DayOverride(d.day, d.working, d.note) for d in session.exec(select(CalendarDay))]


def policy_of(requirement: Requirement) -> ReminderPolicy:
    spec = requirement.reminder_spec
    return ReminderPolicy.from_json(spec) if spec else DEFAULT_POLICY


def targets(session: Session, campaign: Campaign, now: datetime) -> list[Target]:
    table = status_table(now, campaign.id)
    rows = session.execute(
        select_columns(
            table.c.assignment_id,
            table.c.status,
            table.c.due_at,
            col(Assignment.deadline_version),
            Requirement,
            Unit,
        )
        .join(Assignment, col(Assignment.id) == table.c.assignment_id)
        .join(Requirement, col(Requirement.id) == table.c.requirement_id)
        .join(Unit, col(Unit.id) == table.c.unit_id)
        .order_by(col(Requirement.position), col(Unit.code))
    )
    return [Target(a, r, u, Status(s), due, v) for a, s, due, v, r, u in rows]


def contacts_by_unit(session: Session, unit_ids: Iterable[int]) -> dict[int, list[Contact]]:
    grouped: dict[int, list[Contact]] = defaultdict(list)
    ids = list(unit_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for c in session.exec(select(Contact).where(col(Contact.unit_id).in_(chunk))):
            grouped[c.unit_id].append(c)
    return grouped


def sent_steps(session: Session, campaign: Campaign) -> dict[tuple[int, int], set[str]]:
    """Step keys already in the outbox per (assignment, deadline version), whatever their
    state: a step is planned once."""
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    rows = session.exec(
        select(Delivery.assignment_id, Delivery.deadline_version, Delivery.step_key).where(
            Delivery.campaign_id == campaign.id, col(Delivery.assignment_id).is_not(None)
        )
    )
    for assignment_id, version, key in rows:
        found[(assignment_id or 0, version)].add(key)
    return found


def recipients(contacts: list[Contact], step: Step, zalo: bool) -> list[tuple[str, str, str]]:
    """(channel, address, role) for each consenting contact; the chair only on escalation,
    or when the unit has nobody else."""
    roles = WORKING_ROLES + (("chair",) if step.escalate else ())
    chosen = [c for c in contacts if c.role in roles] or [c for c in contacts if c.role == "chair"]
    out = []
    for c in chosen:
        if c.consent_email and c.email:
            out.append(("email", c.email, c.role))
        if zalo and c.consent_zalo and c.zalo_phone:
            out.append(("zalo", c.zalo_phone, c.role))
    return out


def plan_campaign(
    session: Session, campaign: Campaign, *, now: datetime, settings: Settings, zalo: bool
) -> Plan:
    tz = settings.tz
    overrides = calendar_overrides(session)
    found = targets(session, campaign, now)
    contacts = contacts_by_unit(session, {t.unit.id or 0 for t in found})
    done = sent_steps(session, campaign)
    plan = Plan()
    for t in found:
        calendar = WorkingCalendar(WorkWeek(t.unit.calendar), overrides)
        unit_contacts = contacts.get(t.unit.id or 0, [])
        reason = _skip_reason(t, unit_contacts, now, calendar, tz, done)
        if isinstance(reason, str):
            plan.skipped.append(Skipped(t.unit.code, t.requirement.code, reason))
            continue
        for channel, address, role in recipients(unit_contacts, reason, zalo):
            plan.deliveries.append(
                _delivery(
                    session, campaign, t, reason, channel, address, role, now, settings, calendar
                )
            )
    return plan


def _skip_reason(
    t: Target,
    contacts: list[Contact],
    now: datetime,
    calendar: WorkingCalendar,
    tz: ZoneInfo,
    done: dict[tuple[int, int], set[str]],
) -> Step | str:
    closed = intake_closed(t.requirement.hard_close_at, t.due_at, now)
    usable = any(
        (c.consent_email and c.email) or (c.consent_zalo and c.zalo_phone) for c in contacts
    )
    skip = eligibility(t.status, has_contact=usable, closed=closed)
    if skip is not None:
        return skip.value
    sent = done.get((t.assignment_id, t.deadline_version), set())
    step = due_step(policy_of(t.requirement), t.due_at, calendar, tz, now, sent)
    return step if step is not None else "not_due"


def _delivery(
    session: Session,
    campaign: Campaign,
    t: Target,
    step: Step,
    channel: str,
    address: str,
    role: str,
    now: datetime,
    settings: Settings,
    calendar: WorkingCalendar,
) -> NewDelivery:
    kind = Kind.ESCALATION if step.escalate and role == "chair" else KIND_OF_STEP[step.kind]
    # The escalation text counts the overdue reminders already sent (this one excluded).
    earlier = step.number - 1 if step.kind == StepKind.OVERDUE else 0
    ctx = message_context(
        session, campaign, t, now=now, settings=settings, calendar=calendar, overdue_count=earlier
    )
    rendered = render_email(kind, ctx) if channel == "email" else None
    params: dict[str, Any] = {"template": kind.value, "unit_code": t.unit.code}
    if channel == "zalo":
        params |= zalo_params(kind, ctx)
    return NewDelivery(
        campaign_id=campaign.id or 0,
        assignment_id=t.assignment_id,
        step_key=step.key,
        deadline_version=t.deadline_version,
        kind=kind.value,
        channel=channel,
        recipient=address,
        contact_role=role,
        subject=rendered.subject if rendered else None,
        body=rendered.body if rendered else None,
        params=params,
        not_before=step.at,
    )


def message_context(
    session: Session,
    campaign: Campaign,
    t: Target,
    *,
    now: datetime,
    settings: Settings,
    calendar: WorkingCalendar,
    overdue_count: int = 0,
) -> MessageContext:
    office = session.get(Unit, t.requirement.submit_to_unit_id)
    office_contact = session.exec(
        select(Contact)
        .where(Contact.unit_id == t.requirement.submit_to_unit_id)
        .order_by(col(Contact.role) != "office")
    ).first()
    issuer = session.get(Unit, campaign.issuer_unit_id)
    token = token_for(
        session,
        campaign_id=campaign.id or 0,
        unit_id=t.unit.id or 0,
        secret=settings.secret(),
        by=ACTOR,
        now=now,
    )
    return MessageContext(
        unit_name=t.unit.name,
        unit_code=t.unit.code,
        unit_short_name=t.unit.short_name,
        requirement_title=t.requirement.title,
        issuing_body=f"{campaign.issuing_body or ''} {issuer.name if issuer else ''}".strip(),
        plan_number=campaign.doc_number,
        plan_title=campaign.title,
        due_at=t.due_at,
        working_days_left=working_days_left(t.due_at, now, calendar, settings.tz),
        link=link_url(settings.public_base_url, token),
        office_name=office.name if office else "",
        tz=settings.tz,
        office_phone=office_contact.zalo_phone if office_contact else None,
        office_email=office_contact.email if office_contact else None,
        overdue_count=overdue_count,
    )


def recheck(session: Session, delivery: Delivery, now: datetime) -> str | None:
    """At the moment of sending: is this row still wanted? (submitted, exempted, extended,
    closed → skip). Office messages are always sent."""
    if delivery.assignment_id is None:
        return None
    assignment = session.get(Assignment, delivery.assignment_id)
    if assignment is None:
        return "assignment removed"
    if assignment.deadline_version != delivery.deadline_version:
        return "deadline extended"  # steps for the new deadline are new steps
    requirement = session.get(Requirement, assignment.requirement_id)
    assert requirement is not None  # foreign key
    versions = session.exec(
        select(Submission)
        .where(Submission.assignment_id == assignment.id, col(Submission.received_at) <= now)
        .order_by(col(Submission.version))
    ).all()
    due = effective_due(requirement.due_at, assignment.extended_due_at)
    status = assignment_status(due_at=due, exempt=assignment.exempt, submissions=versions, now=now)
    closed = intake_closed(requirement.hard_close_at, due, now)
    skip = eligibility(status, has_contact=True, closed=closed)
    if skip is not None:
        return skip.value
    if delivery.step_key.startswith("before") and now >= due:
        return "deadline passed"  # a before-the-deadline reminder is never sent after it
    return None
