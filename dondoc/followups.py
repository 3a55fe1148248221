"""What an outcome asks for beyond its own row, enqueued right after it is recorded (the
dispatcher's `follow_up` hook):
- a Zalo reminder that failed for good with `fallback_to_email` → the same step by email;
- an outcome only a person can fix (needs_person), Zalo's daily quota spent, or a Zalo message
  sent with under a tenth of the day's quota left → an alert to
  the office: its email addresses and every URL in DONDOC_ALERT_URLS. One office row per kind,
  campaign and local day (step key "alert-<kind>-<date>"): a batch of refused rows alerts once.
  Alerts about the Zalo OA itself (its quota, its account) are one a day per address across
  campaigns ("oa-alert-<kind>-<date>"): two plans running do not double them.
The rows are due at once; the same dispatch call sends them."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from sqlalchemy import Engine
from sqlmodel import Session, select

from dondoc.digest import office_addresses
from dondoc.errors import DondocError
from dondoc.notices import email_fallback
from dondoc.outbox import NewDelivery, Outcome, Result, enqueue
from dondoc.settings import Settings
from models import Campaign, Delivery, Requirement, Unit
from models.outbox import OA_ALERT_PREFIX
from notifications.alerts import AlertInput, render_alert

log = logging.getLogger(__name__)
ALERT = "alert"
OA_WIDE: Final = frozenset({"zalo-quota", "zalo-quota-low", "zalo-account"})


def follow_up(
    engine: Engine, row: Delivery, result: Result, now: datetime, *, settings: Settings
) -> None:
    if not result.fallback_to_email and alert_kind(row, result) is None:
        return  # the common case, a message sent: no session opened for nothing
    try:
        with Session(engine) as session:
            items = _fallback(session, row, result, now, settings)
            kind = alert_kind(row, result)
            if kind is not None:
                items += office_alert(session, row, result, kind, now=now, settings=settings)
            added = enqueue(session, items, now=now)
            session.commit()
    except DondocError:  # a message that cannot be written: the row's own outcome stands
        log.exception("delivery %s: its follow-up could not be enqueued", row.id)
        return
    if added:
        log.info("delivery %s (%s): %d follow-up row(s)", row.id, result.outcome.value, added)


def _fallback(
    session: Session, row: Delivery, result: Result, now: datetime, settings: Settings
) -> list[NewDelivery]:
    if not result.fallback_to_email or row.channel == "email":
        return []
    return email_fallback(session, row, now=now, settings=settings)


def alert_kind(row: Delivery, result: Result) -> str | None:
    """The channel's own verdict, or "<channel>-account" for any other needs_person; never for
    an alert that failed (that would alert about alerts)."""
    if row.kind == ALERT:
        return None
    if result.alert is not None:
        return result.alert
    return f"{row.channel}-account" if result.outcome is Outcome.NEEDS_PERSON else None


def office_alert(
    session: Session,
    row: Delivery,
    result: Result,
    kind: str,
    *,
    now: datetime,
    settings: Settings,
) -> list[NewDelivery]:
    campaign = session.get_one(Campaign, row.campaign_id)
    rendered = render_alert(
        AlertInput(kind=kind, channel=row.channel, campaign_title=campaign.title,
                   plan_number=campaign.doc_number, office_name=_office_name(session, campaign),
                   now=now, tz=settings.tz, code=result.error_code,
                   error=result.error or result.detail)
    )  # fmt: skip
    day = now.astimezone(settings.tz).date().isoformat()
    # The OA's quota and account belong to the deployment, not to a campaign: one alert a day
    # per address whichever campaign noticed it first (the index uq_delivery_oa_alert).
    prefix = OA_ALERT_PREFIX if kind in OA_WIDE else "alert-"
    key = f"{prefix}{kind}-{day}"[:64]
    return [
        NewDelivery(campaign_id=campaign.id or 0, assignment_id=None, step_key=key,
                    deadline_version=0, kind=ALERT, channel=channel, recipient=recipient,
                    contact_role=role, subject=rendered.subject, body=rendered.body,
                    params={"alert": kind}, not_before=now)
        for channel, recipient, role in _alert_recipients(session, campaign, settings)
    ]  # fmt: skip


def _alert_recipients(
    session: Session, campaign: Campaign, settings: Settings
) -> list[tuple[str, str, str | None]]:
    found: list[tuple[str, str, str | None]] = [
        ("email", c.email or "", c.role) for c in office_addresses(session, campaign)
    ]
    if settings.alert_urls:
        from notifications.apprise_alerts import address  # Apprise only when configured

        found += [("apprise", address(u.get_secret_value()), None) for u in settings.alert_urls]
    return found


def _office_name(session: Session, campaign: Campaign) -> str:
    name = session.exec(
        select(Unit.name)
        .join(Requirement, Requirement.submit_to_unit_id == Unit.id)  # type: ignore[arg-type]
        .where(Requirement.campaign_id == campaign.id)
    ).first()
    return name or "Văn phòng"
