"""The office's daily digest per campaign: missing and late units first, counts, what was sent,
units with no usable contact, and a ready-to-paste text for the office's own Zalo group. It is
one outbox row per office address and working day (step key "digest-YYYY-MM-DD")."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

from sqlmodel import Session, col, func, select

from dondoc.notices import REMINDER_KINDS
from dondoc.outbox import NewDelivery
from dondoc.reminding import Plan, calendar_overrides, contacts_by_unit, reachable, targets
from dondoc.rules.calendar import WorkingCalendar
from dondoc.rules.reminders import DEFAULT_POLICY
from dondoc.rules.status import Status
from dondoc.settings import Settings
from models import Assignment, Campaign, Contact, Delivery, Requirement, Unit, ZaloToken
from notifications.digestmessages import (
    DigestInput,
    DigestUnit,
    ZaloQuota,
    render_digest,
    render_zalo_group_text,
)
from notifications.messages import (
    KIND_LABELS_VI,
    Kind,
)
from notifications.registry import readable_zalo_config, zalo_config

DIGEST_AT = DEFAULT_POLICY.send_at  # the office reads it with the morning's reminders


def digest_input(session: Session, campaign: Campaign, *, now: datetime, settings: Settings,
                 plan: Plan | None = None) -> DigestInput:  # fmt: skip
    """From the reminder plan of the same moment when given (the statuses and contacts it read),
    else read afresh."""
    found = plan.targets if plan else targets(session, campaign, now)
    contacts = plan.contacts if plan else contacts_by_unit(session, {t.unit.id for t in found})
    zalo = plan.zalo if plan else zalo_config(settings) is not None
    reminded = _reminders(session, campaign)
    escalated = _escalated(session, campaign)
    lines: dict[str, Counter[Status]] = defaultdict(Counter)
    units = []
    for t in found:
        lines[t.requirement.title][t.status] += 1
        count, last = reminded.get(t.assignment_id, (0, None))
        usable = reachable(contacts.get(t.unit.id or 0, []), zalo)
        units.append(DigestUnit(t.unit.code, t.unit.name, t.status, t.due_at, last, count,
                                not usable, escalated.get(t.assignment_id)))  # fmt: skip
    office = session.get(Unit, found[0].requirement.submit_to_unit_id) if found else None
    return DigestInput(
        campaign_title=campaign.title, plan_number=campaign.doc_number,
        office_name=office.name if office else "", now=now, tz=settings.tz,
        requirement_lines=[(title, dict(c)) for title, c in lines.items()],
        units=units, sent_today=_sent_today(session, campaign, now, settings),
        unknown=_unknown(session, campaign),
        zalo_quota=_zalo_quota(session, settings) if zalo else None,
    )  # fmt: skip


def _zalo_quota(session: Session, settings: Settings) -> ZaloQuota | None:
    """The OA's daily quota as its last answer stated it; None if never read."""
    config = readable_zalo_config(settings, purpose="the digest without the Zalo quota")
    if config is None:
        return None
    row = session.exec(select(ZaloToken).where(ZaloToken.app_id == config.app_id)).first()
    if row is None or row.quota_at is None:
        return None
    left, daily = row.quota_remaining, row.quota_daily
    return None if left is None or daily is None else ZaloQuota(left, daily, row.quota_at)


def _reminders(session: Session, campaign: Campaign) -> dict[int, tuple[int, datetime | None]]:
    rows = session.exec(
        select(Delivery.assignment_id, func.count(), func.max(Delivery.sent_at))
        .where(Delivery.campaign_id == campaign.id, Delivery.state == "sent",
               col(Delivery.assignment_id).is_not(None),
               col(Delivery.kind).in_(REMINDER_KINDS))  # not receipts nor return notices
        .group_by(col(Delivery.assignment_id))
    ).all()  # fmt: skip
    return {a or 0: (n, last) for a, n, last in rows}


def _escalated(session: Session, campaign: Campaign) -> dict[int, datetime]:
    """When each assignment's escalation (the chair written to) first went out."""
    rows = session.exec(
        select(Delivery.assignment_id, func.min(Delivery.sent_at))
        .where(Delivery.campaign_id == campaign.id, Delivery.state == "sent",
               col(Delivery.assignment_id).is_not(None), Delivery.kind == Kind.ESCALATION.value)
        .group_by(col(Delivery.assignment_id))
    ).all()  # fmt: skip
    return {a or 0: first for a, first in rows if first is not None}


def _sent_today(session: Session, campaign: Campaign, now: datetime, settings: Settings
                ) -> list[tuple[str, str, str]]:  # fmt: skip
    start = datetime.combine(now.astimezone(settings.tz).date(), time(0), settings.tz)
    rows = session.exec(
        select(Unit.name, Delivery.kind, Delivery.channel)
        .join(Assignment, col(Assignment.id) == Delivery.assignment_id)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .where(Delivery.campaign_id == campaign.id, Delivery.state == "sent",
               col(Delivery.sent_at) >= start, col(Delivery.sent_at) < start + timedelta(days=1))
        .order_by(col(Delivery.sent_at))
    ).all()  # fmt: skip
    return [(name, _kind_label(kind), channel) for name, kind, channel in rows]


def _unknown(session: Session, campaign: Campaign) -> list[tuple[str, str, str]]:
    """Messages to units whose outcome stayed unknown (dondoc.reconcile could not settle
    them): never resent blindly, so the office checks them."""
    rows = session.exec(
        select(Unit.name, Delivery.kind, Delivery.channel)
        .join(Assignment, col(Assignment.id) == Delivery.assignment_id)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .where(Delivery.campaign_id == campaign.id, Delivery.state == "unknown")
        .order_by(col(Delivery.not_before))
    ).all()
    return [(name, _kind_label(kind), channel) for name, kind, channel in rows]


def _kind_label(kind: str) -> str:
    return KIND_LABELS_VI.get(Kind(kind), kind)  # a unit's rows are all of a messages.Kind


def office_addresses(session: Session, campaign: Campaign) -> list[Contact]:
    """Who reads the digest: the consenting contacts of the units that receive the reports
    (the office, Văn phòng)."""
    offices = select(Requirement.submit_to_unit_id).where(Requirement.campaign_id == campaign.id)
    return list(session.exec(
        select(Contact).where(col(Contact.unit_id).in_(offices),
                              col(Contact.consent_email).is_(True), col(Contact.email).is_not(None))
        .order_by(col(Contact.unit_id), col(Contact.role))
    ))  # fmt: skip


def plan_digest(session: Session, campaign: Campaign, *, now: datetime, settings: Settings,
                calendar: WorkingCalendar | None = None, plan: Plan | None = None
                ) -> list[NewDelivery]:  # fmt: skip
    """The day's digest to the office's consenting email addresses, once the morning send time
    has passed on a working day of the office; nothing once every address has today's."""
    calendar = calendar or WorkingCalendar(overrides=calendar_overrides(session))
    local = now.astimezone(settings.tz)
    if not calendar.is_working_day(local.date()) or local.time() < DIGEST_AT:
        return []
    key = f"digest-{local.date().isoformat()}"
    office = _without_digest(session, campaign, office_addresses(session, campaign), key)
    if not office:
        return []  # every later tick of the day: not written again
    data = digest_input(session, campaign, now=now, settings=settings, plan=plan)
    rendered = render_digest(data)
    group_text = render_zalo_group_text(data)
    body = f"{rendered.body}\n\n--- Tin nhắn gửi nhóm Zalo (sao chép) ---\n\n{group_text}"
    return [NewDelivery(campaign_id=campaign.id or 0, assignment_id=None, step_key=key,
                        deadline_version=0, kind="digest", channel="email", recipient=c.email or "",
                        contact_role=c.role, subject=rendered.subject, body=body, not_before=now)
            for c in office]  # fmt: skip


def _without_digest(
    session: Session, campaign: Campaign, office: list[Contact], key: str
) -> list[Contact]:
    have = set(
        session.exec(
            select(Delivery.recipient).where(
                Delivery.campaign_id == campaign.id, Delivery.step_key == key
            )
        )
    )
    return [c for c in office if c.email not in have]
