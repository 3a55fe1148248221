"""One reminder tick for a campaign, shared by the flow and the CLI's "send now": plan the
due steps into the outbox (once each), then dispatch what is due."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from dondoc.digest import plan_digest
from dondoc.dispatch import Pacer, dispatch
from dondoc.outbox import enqueue
from dondoc.reminding import Plan, plan_campaign, recheck
from dondoc.settings import Settings
from models import Campaign
from notifications.registry import build_channels

# Per channel: sends per second from one process (Zalo allows 4,000 requests a minute per app;
# SMTP servers throttle bursts).
RATES = {"email": 5.0, "zalo": 3.0}


def plan_and_enqueue(
    engine: Engine, campaign_id: int, *, now: datetime, settings: Settings
) -> tuple[int, Plan]:
    channels = build_channels(settings)
    with Session(engine) as session:
        campaign = session.get_one(Campaign, campaign_id)
        plan = plan_campaign(session, campaign, now=now, settings=settings, zalo="zalo" in channels)
        digest = plan_digest(session, campaign, now=now, settings=settings)
        added = enqueue(session, plan.deliveries + digest, now=now)
        session.commit()
    return added, plan


def dispatch_due(
    engine: Engine, *, now: datetime, settings: Settings, worker: str, limit: int = 500
) -> Counter[str]:
    return dispatch(
        engine,
        build_channels(settings),
        now=now,
        worker=worker,
        limit=limit,
        recheck=recheck,
        pacer=Pacer(RATES),
    )
