"""One reminder tick for a campaign, shared by the flow and the CLI's "send now": plan the
due steps into the outbox (once each), then dispatch what is due (reminders re-checked, other
messages as they are, each outcome followed up: fallback to email, office alerts)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import partial

from sqlalchemy import Engine
from sqlmodel import Session

from dondoc.compose import Composer
from dondoc.digest import plan_digest
from dondoc.dispatch import Pacer, dispatch
from dondoc.followups import follow_up
from dondoc.notices import REMINDER_KINDS
from dondoc.outbox import enqueue
from dondoc.reconcile import reconcile_unknown
from dondoc.reminding import Plan, Recheck, Verdict, plan_campaign
from dondoc.settings import Settings, get_settings
from models import Campaign, Delivery
from notifications.registry import build_channels
from notifications.zalochannel import ZaloChannel


def plan_and_enqueue(
    engine: Engine, campaign_id: int, *, now: datetime, settings: Settings
) -> tuple[int, Plan]:
    channels = build_channels(settings)
    with Session(engine) as session:
        campaign = session.get_one(Campaign, campaign_id)
        plan = plan_campaign(session, campaign, now=now, settings=settings, zalo="zalo" in channels)
        digest = plan_digest(session, campaign, now=now, settings=settings, plan=plan)
        added = enqueue(session, plan.deliveries + digest, now=now)
        session.commit()
    return added, plan


def dispatch_due(
    engine: Engine,
    *,
    now: datetime,
    settings: Settings,
    worker: str,
    limit: int = 500,
    campaign_id: int | None = None,
) -> Counter[str]:
    """What is due, of every campaign (the flows) or of one (the office's "send now")."""
    channels = build_channels(settings)
    zalo = channels.get("zalo")
    # First settle what Zalo can tell about earlier unknown outcomes (one batch a tick).
    settled = (
        reconcile_unknown(engine, zalo.client.message_status, now=now)
        if isinstance(zalo, ZaloChannel)
        else Counter[str]()
    )
    return settled + dispatch(
        engine,
        channels,
        now=now,
        worker=worker,
        limit=limit,
        recheck=RecheckReminders(settings),
        compose=Composer(settings),
        pacer=Pacer(settings.send_rates),
        follow_up=partial(follow_up, engine, settings=settings),
        campaign_id=campaign_id,
    )


class RecheckReminders:
    """Only reminders depend on the unit's status and calendar at send time: a receipt goes
    precisely to a unit that submitted, and alerts and digests to the office, at any hour."""

    def __init__(self, settings: Settings) -> None:
        self.reminders = Recheck(settings.tz)

    def __call__(self, session: Session, delivery: Delivery, now: datetime) -> Verdict:
        return self.reminders(session, delivery, now) if delivery.kind in REMINDER_KINDS else None


def recheck_reminders(session: Session, delivery: Delivery, now: datetime) -> Verdict:
    """The same for one row (tests, one-off sends)."""
    return RecheckReminders(get_settings())(session, delivery, now)
