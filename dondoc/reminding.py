"""Planning reminders for a campaign at `now`: which unit gets which step on which channel,
who is skipped and why. A handful of queries per campaign, then the pure rules
(dondoc.rules.reminders) per assignment; the result goes into the outbox (or, for a preview,
nowhere). Sending re-checks eligibility (`recheck`), because a unit may submit, be exempted or
get an extension between planning and sending, and writes the text (dondoc.compose)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from dondoc.db import table
from dondoc.outbox import NewDelivery
from dondoc.rules.calendar import DayOverride, WorkingCalendar, WorkWeek
from dondoc.rules.reminders import (
    DEFAULT_POLICY,
    ReminderPolicy,
    Step,
    StepKind,
    due_step,
    eligibility,
    latest_step,
    next_allowed,
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
from notifications.messages import Kind

ACTOR = "reminders"
# Ordinary reminders go to the people who prepare the report; the chair joins on escalation.
WORKING_ROLES = ("office", "secretary", "vice_chair")
KIND_OF_STEP = {
    StepKind.BEFORE: Kind.BEFORE,
    StepKind.DUE_DAY: Kind.DUE_TODAY,
    StepKind.OVERDUE: Kind.OVERDUE,
}


class UnitInfo(NamedTuple):
    """The columns of a unit the planner and the digest read. Plain tuples, here and below:
    at 100,000 assignments, building ORM objects (or even frozen dataclasses) costs more than
    the planning itself."""

    id: int
    code: str
    name: str
    short_name: str | None
    calendar: str


class ContactInfo(NamedTuple):
    unit_id: int
    role: str
    email: str | None
    zalo_phone: str | None
    consent_email: bool
    consent_zalo: bool


class Target(NamedTuple):
    """One assignment as the planner needs it."""

    assignment_id: int
    requirement: Requirement
    unit: UnitInfo
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
    # What the plan was made from, for the office's digest of the same tick.
    targets: list[Target] = field(default_factory=list)
    contacts: dict[int, list[ContactInfo]] = field(default_factory=dict)
    zalo: bool = False  # whether Zalo was in use: a Zalo number alone reached nobody otherwise


def calendar_overrides(session: Session) -> list[DayOverride]:
    return [DayOverride(d.day, d.working, d.note) for d in session.exec(select(CalendarDay))]


class Calendars:
    """The working calendar of each working week (Mon–Fri, Mon–Sat), built once from the
    overrides: units share a handful of them."""

    def __init__(self, overrides: list[DayOverride]) -> None:
        self.overrides = overrides
        self.built: dict[str, WorkingCalendar] = {}

    def of(self, week: str) -> WorkingCalendar:
        if week not in self.built:
            self.built[week] = WorkingCalendar(WorkWeek(week), self.overrides)
        return self.built[week]


def policy_of(spec: dict[str, Any] | None) -> ReminderPolicy:
    """A requirement's policy from its `reminder_spec`; the default when it names none."""
    return ReminderPolicy.from_json(spec) if spec else DEFAULT_POLICY


def targets(session: Session, campaign: Campaign, now: datetime) -> list[Target]:
    table = status_table(now, campaign.id)
    requirements = {
        r.id: r
        for r in session.exec(select(Requirement).where(Requirement.campaign_id == campaign.id))
    }
    # On the session's connection, as Core: the ORM's result processing doubles the time.
    rows = (
        session.connection()
        .execute(
            select_columns(
                table.c.assignment_id,
                table.c.requirement_id,
                table.c.status,
                table.c.due_at,
                col(Assignment.deadline_version),
                *UNIT_COLUMNS,
            )
            .join(Assignment, col(Assignment.id) == table.c.assignment_id)
            .join(Requirement, col(Requirement.id) == table.c.requirement_id)
            .join(Unit, col(Unit.id) == table.c.unit_id)
            .order_by(col(Requirement.position), col(Unit.code))
        )
        .all()
    )  # fetchall: a third faster than fetching row by row
    return [
        Target(a, requirements[r], UnitInfo(*unit), STATUSES[s], due, v)
        for a, r, s, due, v, *unit in rows
    ]


STATUSES = {s.value: s for s in Status}  # a dict lookup: Status(value) is ~10 times slower
UNIT_COLUMNS = (col(Unit.id), col(Unit.code), col(Unit.name), col(Unit.short_name),
                col(Unit.calendar))  # fmt: skip
IN_LIST_MAX = 2000
CONTACT_COLUMNS = (col(Contact.unit_id), col(Contact.role), col(Contact.email),
                   col(Contact.zalo_phone), col(Contact.consent_email),
                   col(Contact.consent_zalo))  # fmt: skip


def contacts_by_unit(session: Session, unit_ids: Iterable[int]) -> dict[int, list[ContactInfo]]:
    grouped: dict[int, list[ContactInfo]] = defaultdict(list)
    wanted = set(unit_ids)
    query = select_columns(*CONTACT_COLUMNS).order_by(col(Contact.id))
    # Many units: one pass over the table beats thousands of bound parameters (and stays
    # under every backend's limit on them); a few: look them up.
    chunks = [None] if len(wanted) > IN_LIST_MAX else _chunks(sorted(wanted), IN_LIST_MAX)
    for chunk in chunks:
        scoped = query if chunk is None else query.where(col(Contact.unit_id).in_(chunk))
        for row in session.connection().execute(scoped).all():
            if row[0] in wanted:
                grouped[row[0]].append(ContactInfo(*row))
    return grouped


def _chunks(ids: list[int], size: int) -> list[list[int] | None]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def sent_steps(session: Session, campaign: Campaign) -> dict[tuple[int, int], set[str]]:
    """Step keys already in the outbox per (assignment, deadline version), whatever their
    state: a step is planned once."""
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    rows = session.connection().execute(
        select_columns(
            col(Delivery.assignment_id), col(Delivery.deadline_version), col(Delivery.step_key)
        ).where(col(Delivery.campaign_id) == campaign.id, col(Delivery.assignment_id).is_not(None))
    )
    for assignment_id, version, key in rows:
        found[(assignment_id or 0, version)].add(key)
    return found


def recipients(contacts: list[ContactInfo], step: Step, zalo: bool) -> list[tuple[str, str, str]]:
    """(channel, address, role) for each way to reach the people who prepare the report, the
    chair too on escalation; the chair alone when none of them can be reached. Only channels
    in use: a Zalo number reaches nobody while Zalo is not configured."""
    return addressed([w for c in contacts for w in ways(c, zalo)], escalate=step.escalate)


def addressed(found: list[tuple[str, str, str]], *, escalate: bool) -> list[tuple[str, str, str]]:
    """Of the (channel, address, role) ways at hand: the people who prepare the report, the
    chair too on escalation, the chair alone when none of them is among them. The one rule
    for the planner and for a Zalo step's email fallback (notices)."""
    roles = WORKING_ROLES + (("chair",) if escalate else ())
    return [w for w in found if w[2] in roles] or [w for w in found if w[2] == "chair"]


def ways(contact: ContactInfo, zalo: bool) -> list[tuple[str, str, str]]:
    """The consenting channels of one contact, among those in use."""
    out = []
    if contact.consent_email and contact.email:
        out.append(("email", contact.email, contact.role))
    if zalo and contact.consent_zalo and contact.zalo_phone:
        out.append(("zalo", contact.zalo_phone, contact.role))
    return out


def reachable(contacts: list[ContactInfo], zalo: bool) -> bool:
    """Whether any reminder can reach the unit (else it is listed for the office)."""
    return any(ways(c, zalo) for c in contacts)


def plan_campaign(
    session: Session, campaign: Campaign, *, now: datetime, settings: Settings, zalo: bool
) -> Plan:
    found = targets(session, campaign, now)
    contacts = contacts_by_unit(session, {t.unit.id for t in found})
    steps = _Steps(calendar_overrides(session), sent_steps(session, campaign), settings.tz, now,
                   zalo)  # fmt: skip
    plan = Plan(targets=found, contacts=contacts, zalo=zalo)
    for t in found:
        unit_contacts = contacts.get(t.unit.id, [])
        step = steps.skip_reason(t, unit_contacts)
        if isinstance(step, str):
            plan.skipped.append(Skipped(t.unit.code, t.requirement.code, step))
        else:
            chosen = recipients(unit_contacts, step, zalo)
            plan.deliveries.extend(_delivery(campaign, t, step, *r) for r in chosen)
    return plan


class _Steps:
    """The pure rules per target, memoised: 100,000 assignments share a handful of
    (policy, deadline, working week, steps sent) combinations."""

    def __init__(
        self,
        overrides: list[DayOverride],
        done: dict[tuple[int, int], set[str]],
        tz: ZoneInfo,
        now: datetime,
        zalo: bool,
    ) -> None:
        self.done, self.tz, self.now, self.zalo = done, tz, now, zalo
        self.calendars = Calendars(overrides)
        self.policies: dict[int, ReminderPolicy] = {}
        self.due: dict[tuple[int, datetime, str, frozenset[str]], Step | None] = {}

    def skip_reason(self, t: Target, contacts: list[ContactInfo]) -> Step | str:
        closed = intake_closed(t.requirement.hard_close_at, t.due_at, self.now)
        skip = eligibility(t.status, has_contact=reachable(contacts, self.zalo), closed=closed)
        if skip is not None:
            return skip.value
        step = self.step(t, frozenset(self.done.get((t.assignment_id, t.deadline_version), ())))
        return step if step is not None else "not_due"

    def step(self, t: Target, sent: frozenset[str]) -> Step | None:
        rid = t.requirement.id or 0
        key = (rid, t.due_at, t.unit.calendar, sent)
        if key not in self.due:
            if rid not in self.policies:
                self.policies[rid] = policy_of(t.requirement.reminder_spec)
            calendar = self.calendars.of(t.unit.calendar)
            self.due[key] = due_step(
                self.policies[rid], t.due_at, calendar, self.tz, self.now, sent
            )
        return self.due[key]


def _delivery(campaign: Campaign, t: Target, step: Step, channel: str, address: str, role: str
              ) -> NewDelivery:  # fmt: skip
    """Who gets which step: the text is written when the row is sent (dondoc.compose), with
    the days left counted then."""
    kind = Kind.ESCALATION if step.escalate and role == "chair" else KIND_OF_STEP[step.kind]
    return NewDelivery(
        campaign_id=campaign.id or 0, assignment_id=t.assignment_id, step_key=step.key,
        deadline_version=t.deadline_version, kind=kind.value, channel=channel,
        recipient=address, contact_role=role, not_before=step.at,
        params={"template": kind.value, "unit_code": t.unit.code},
    )  # fmt: skip


Verdict = str | datetime | None  # a reason to skip, a moment to defer to, or None: send


class Recheck:
    """At the moment of sending: is this reminder still wanted, and may it go out now?
    One per dispatch call: it keeps what does not change within one (the working
    calendars, each requirement's policy and steps).

    Returns a reason to skip the row (submitted, exempted, extended, closed, or a later step
    due since: only the latest due step goes out, whatever waited in the outbox through a
    downtime, a retry or a quota day), or the moment to defer it to (quiet hours or a day off
    when a retry or a deferral comes due), or None to send it. Office messages are always
    sent. Plain column queries, no ORM objects: a cached object could hide a change made since."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.calendars: Calendars | None = None
        self.policies: dict[int, ReminderPolicy] = {}
        self.latest: dict[tuple[int, datetime, str, datetime], Step | None] = {}

    def __call__(self, session: Session, delivery: Delivery, now: datetime) -> Verdict:
        if delivery.assignment_id is None:
            return None
        # One query, one round trip: the assignment's row once per submission received by now
        # (once with empty submission columns if there is none).
        params = {"id": delivery.assignment_id, "now": now}
        rows = session.connection().execute(_RECHECK, params).all()
        if not rows:
            return "assignment removed"
        found = rows[0]
        if found.deadline_version != delivery.deadline_version:
            return "deadline extended"  # steps for the new deadline are new steps
        subs = [row for row in rows if row.version is not None]
        due = effective_due(found.due_at, found.extended_due_at)
        status = assignment_status(due_at=due, exempt=found.exempt, submissions=subs, now=now)
        closed = intake_closed(found.hard_close_at, due, now)
        skip = eligibility(status, has_contact=True, closed=closed)
        if skip is not None:
            return skip.value
        if delivery.step_key.startswith("before") and now >= due:
            return "deadline passed"  # a before-the-deadline reminder is never sent after it
        return self.timing(session, found, due, delivery.step_key, now)

    def timing(
        self, session: Session, found: Row[Any], due: datetime, step_key: str, now: datetime
    ) -> Verdict:
        """A later step due since (skip), quiet hours or a day off (defer), or None."""
        if self.calendars is None:
            self.calendars = Calendars(calendar_overrides(session))
        calendar = self.calendars.of(found.calendar)
        if found.requirement_id not in self.policies:
            self.policies[found.requirement_id] = policy_of(found.reminder_spec)
        policy = self.policies[found.requirement_id]
        key = (found.requirement_id, due, found.calendar, now)
        if key not in self.latest:
            self.latest[key] = latest_step(policy, due, calendar, self.tz, now)
        latest = self.latest[key]
        if latest is not None and latest.key != step_key:
            return f"superseded by {latest.key}"  # the older step is stale: never both
        allowed = next_allowed(now, policy, calendar, self.tz)
        return allowed if allowed != now else None


_A, _R, _S, _U = (table(m).c for m in (Assignment, Requirement, Submission, Unit))
_RECHECK = (
    select_columns(_A.deadline_version, _A.exempt, _A.extended_due_at, _R.due_at,
                   _R.hard_close_at, _A.requirement_id, _R.reminder_spec, _U.calendar,
                   _S.version, _S.received_at, _S.review_state)
    .join_from(table(Assignment), table(Requirement), _A.requirement_id == _R.id)
    .join(table(Unit), _A.unit_id == _U.id)
    .outerjoin(table(Submission),
               (_S.assignment_id == _A.id) & (_S.received_at <= bindparam("now")))
    .where(_A.id == bindparam("id"))
)  # fmt: skip
