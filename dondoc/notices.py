"""Messages to one unit outside the reminder planner's loop — a submission's receipt, a return
for correction, a reminder's email fallback — written like the planner's (the same context, the
kind's template) and put in the outbox, one row per consenting email address. Nothing is sent
here: the dispatcher sends, so a web request never waits on an SMTP server."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from sqlmodel import Session, col, select

from dondoc.links import link_url, token_for
from dondoc.outbox import NewDelivery
from dondoc.reminding import ACTOR, Calendars, addressed, calendar_overrides
from dondoc.rules.calendar import WorkingCalendar
from dondoc.rules.reminders import working_days_left
from dondoc.rules.status import effective_due
from dondoc.settings import Settings
from models import Assignment, Campaign, Contact, Delivery, Requirement, Unit
from notifications.messages import Kind, MessageContext, render_email, zalo_params

log = logging.getLogger(__name__)

# The kinds the planner sends and the dispatcher re-checks (submitted, exempted, extended…);
# receipts and return notices go to a unit whatever its status.
REMINDER_KINDS: Final = frozenset({Kind.BEFORE, Kind.DUE_TODAY, Kind.OVERDUE, Kind.ESCALATION})


@dataclass(frozen=True)
class Addressee:
    """One assignment, as a message to its unit needs it."""

    campaign: Campaign
    requirement: Requirement
    assignment: Assignment
    unit: Unit

    @property
    def due_at(self) -> datetime:
        return effective_due(self.requirement.due_at, self.assignment.extended_due_at)


def addressee(session: Session, assignment_id: int) -> Addressee:
    assignment = session.get_one(Assignment, assignment_id)
    requirement = session.get_one(Requirement, assignment.requirement_id)
    return Addressee(
        campaign=session.get_one(Campaign, requirement.campaign_id),
        requirement=requirement,
        assignment=assignment,
        unit=session.get_one(Unit, assignment.unit_id),
    )


def addressees(session: Session, assignment_ids: Iterable[int | None]) -> list[Addressee]:
    """Many assignments' addressees in one query (a dispatch batch)."""
    wanted = [i for i in assignment_ids if i is not None]
    if not wanted:
        return []
    found = session.exec(
        select(Assignment, Requirement, Campaign, Unit)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .join(Campaign, col(Campaign.id) == Requirement.campaign_id)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .where(col(Assignment.id).in_(wanted))
    )
    return [Addressee(campaign=c, requirement=r, assignment=a, unit=u) for a, r, c, u in found]


def unit_context(
    session: Session, to: Addressee, *, now: datetime, settings: Settings
) -> MessageContext:
    """The values every message to a unit shows: its deadline and days left as of `now`, its
    link, the office that receives the report and how to reach it."""
    return Contexts(settings).of(session, to, now=now)


class Contexts:
    """Message contexts for many units in a row (a dispatch batch, one session per row): what
    every unit of a requirement shares — the office and how to reach it, the issuer, the working
    calendars — is read once, as plain values."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.offices: dict[int, tuple[str, str | None, str | None]] = {}
        self.issuers: dict[int, str] = {}
        self.calendars: Calendars | None = None

    def of(self, session: Session, to: Addressee, *, now: datetime, token: str | None = None
           ) -> MessageContext:  # fmt: skip
        """`token`: the unit's current link token when the caller has read it; else it is
        read here (and a first link issued if the unit has none)."""
        office_name, office_phone, office_email = self.office(session, to.requirement)
        if token is None:
            token = token_for(session, campaign_id=to.campaign.id or 0, unit_id=to.unit.id or 0,
                              secret=self.settings.secret(), by=ACTOR, now=now)  # fmt: skip
        calendar = self.calendar(session, to.unit.calendar)
        return MessageContext(
            unit_name=to.unit.name, unit_code=to.unit.code, unit_short_name=to.unit.short_name,
            requirement_title=to.requirement.title,
            issuing_body=self.issuer(session, to.campaign), plan_number=to.campaign.doc_number,
            plan_title=to.campaign.title, due_at=to.due_at,
            working_days_left=working_days_left(to.due_at, now, calendar, self.settings.tz),
            link=link_url(self.settings.public_base_url, token), office_name=office_name,
            office_phone=office_phone, office_email=office_email, tz=self.settings.tz,
        )  # fmt: skip

    def office(self, session: Session, requirement: Requirement
               ) -> tuple[str, str | None, str | None]:  # fmt: skip
        """(name, Zalo phone, email) of the office that receives the requirement's reports."""
        unit_id = requirement.submit_to_unit_id
        if unit_id not in self.offices:
            office = session.get_one(Unit, unit_id)
            reach = session.exec(
                select(Contact)
                .where(Contact.unit_id == unit_id)
                .order_by(col(Contact.role) != "office")
            ).first()
            self.offices[unit_id] = (office.name, reach.zalo_phone if reach else None,
                                     reach.email if reach else None)  # fmt: skip
        return self.offices[unit_id]

    def issuer(self, session: Session, campaign: Campaign) -> str:
        key = campaign.id or 0
        if key not in self.issuers:
            issuer = session.get(Unit, campaign.issuer_unit_id)
            name = issuer.name if issuer else ""
            self.issuers[key] = f"{campaign.issuing_body or ''} {name}".strip()
        return self.issuers[key]

    def calendar(self, session: Session, week: str) -> WorkingCalendar:
        if self.calendars is None:
            self.calendars = Calendars(calendar_overrides(session))
        return self.calendars.of(week)


def consenting_emails(session: Session, unit_id: int) -> list[tuple[str, str]]:
    """(address, role) of the unit's contacts who agreed to email, each address once."""
    found: dict[str, str] = {}
    for c in _contacts(session, unit_id):
        if c.consent_email and c.email:
            found.setdefault(c.email, c.role)
    return list(found.items())


def zalo_only(session: Session, unit_id: int) -> list[tuple[str, str]]:
    """(Zalo phone, role) of the unit's contacts who agreed to Zalo and whom email does not
    reach (no address, or no consent), each phone once."""
    found: dict[str, str] = {}
    for c in _contacts(session, unit_id):
        if c.consent_zalo and c.zalo_phone and not (c.consent_email and c.email):
            found.setdefault(c.zalo_phone, c.role)
    return list(found.items())


def _contacts(session: Session, unit_id: int) -> list[Contact]:
    query = select(Contact).where(Contact.unit_id == unit_id).order_by(col(Contact.id))
    return list(session.exec(query))


def notice_rows(
    session: Session,
    to: Addressee,
    kind: Kind,
    ctx: MessageContext,
    *,
    step_key: str,
    now: datetime,
    settings: Settings,
) -> list[NewDelivery]:
    """A receipt or a return notice for everyone in the unit who can get it: by email to
    those who agreed to email, by Zalo to those who read Zalo only, when the Official Account
    has a template for this kind."""
    unit_id = to.unit.id or 0
    rows = email_rows(to, kind, ctx, step_key=step_key,
                      recipients=consenting_emails(session, unit_id), now=now)  # fmt: skip
    if kind.value not in zalo_kinds(settings):
        return rows
    # Zalo rows are written now, like the email ones: a notice is not re-checked at send time.
    params = {"template": kind.value, "unit_code": to.unit.code} | zalo_params(kind, ctx)
    return rows + [
        NewDelivery(campaign_id=to.campaign.id or 0, assignment_id=to.assignment.id,
                    step_key=step_key, deadline_version=to.assignment.deadline_version,
                    kind=kind.value, channel="zalo", recipient=phone, contact_role=role,
                    params=params, not_before=now)
        for phone, role in zalo_only(session, unit_id)
    ]  # fmt: skip


def zalo_kinds(settings: Settings) -> frozenset[str]:
    """The message kinds the Official Account has templates for; none without Zalo. A config
    that cannot be read counts as none here — a submission must never fail on it — and
    stops the dispatcher, which says why."""
    from notifications.registry import readable_zalo_config

    config = readable_zalo_config(settings, purpose="notices by email only")
    return frozenset(config.templates) if config is not None else frozenset()


def email_rows(
    to: Addressee,
    kind: Kind,
    ctx: MessageContext,
    *,
    step_key: str,
    recipients: list[tuple[str, str]],
    now: datetime,
) -> list[NewDelivery]:
    """One email row per (address, role), due now."""
    rendered = render_email(kind, ctx)
    return [
        NewDelivery(
            campaign_id=to.campaign.id or 0,
            assignment_id=to.assignment.id,
            step_key=step_key,
            deadline_version=to.assignment.deadline_version,
            kind=kind.value,
            channel="email",
            recipient=address,
            contact_role=role,
            subject=rendered.subject,
            body=rendered.body,
            params={"template": kind.value, "unit_code": to.unit.code},
            not_before=now,
        )
        for address, role in recipients
    ]


def email_fallback(
    session: Session, row: Delivery, *, now: datetime, settings: Settings
) -> list[NewDelivery]:
    """A reminder that failed for good on another channel, as email rows for the same step and
    deadline version to the unit's consenting addresses, due now. The unique constraint makes
    it idempotent, and skips whoever already has that step by email."""
    if row.assignment_id is None or row.kind not in REMINDER_KINDS:
        return []
    to = addressee(session, row.assignment_id)
    if to.assignment.deadline_version != row.deadline_version:
        return []  # extended since: the new deadline's steps are planned on their own
    kind = Kind(row.kind)
    ctx = unit_context(session, to, now=now, settings=settings)
    ctx = replace(ctx, overdue_count=earlier_overdue(row.step_key))
    recipients = _fallback_recipients(consenting_emails(session, to.unit.id or 0), kind)
    return email_rows(to, kind, ctx, step_key=row.step_key, recipients=recipients, now=now)


def _fallback_recipients(emails: list[tuple[str, str]], kind: Kind) -> list[tuple[str, str]]:
    # The planner's rule on email alone: a secretary's dead Zalo reaches the chair only if
    # nobody else can be written to. Those who have the step by email already are skipped by
    # the unique constraint.
    found = addressed([("email", a, r) for a, r in emails], escalate=kind is Kind.ESCALATION)
    return [(address, role) for _, address, role in found]


def earlier_overdue(step_key: str) -> int:
    # "overdue-3": the escalation text counts the overdue reminders before this one.
    head, _, number = step_key.rpartition("-")
    return int(number) - 1 if head == "overdue" and number.isdigit() else 0
