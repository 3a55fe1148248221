"""Zalo messages whose outcome is unknown (a timeout after the request left, a dispatcher that
stopped while sending) are never resent blindly: what Zalo says settles them.

- Zalo's delivery webhook names the row by its tracking id ("dondoc17"): the route hands the raw
  post to `accept_delivery_event` (signature, then the fact); `apply_fact` marks an
  unknown row sent with Zalo's msg_id; on a row still `sending` it only notes the msg_id (its
  dispatcher records the outcome; if that dispatcher died, `recover` makes the row unknown with
  its msg_id known).
- Once a tick, `reconcile_unknown` asks GET /message/status about unknown rows whose msg_id is
  known, a batch at a time: any answer means Zalo has the message, so the row is sent.
What neither settles stays `unknown`: the office's digest lists it, to check by hand."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from dondoc.errors import DondocError
from dondoc.outbox import Outcome, Result, record
from dondoc.settings import Settings
from models import Delivery
from notifications.registry import zalo_config
from notifications.zalo import ZaloStatus
from notifications.zalodata import delivery_of
from notifications.zaloerrors import ZaloError
from notifications.zalowebhook import DeliveryFact, delivery_fact, signed

log = logging.getLogger(__name__)
StatusOf = Callable[[str], ZaloStatus]  # ZaloClient.message_status


class WebhookError(DondocError):
    """A post that is not a signed Zalo event: applied to nothing, answered 200 all the same
    (web/zalo.py says why)."""


class WebhookNotConfiguredError(WebhookError):
    """Zalo or its OA secret key is not set: no event can be checked (the route answers 503)."""


def accept_delivery_event(
    engine: Engine, body: bytes, mac: str, *, settings: Settings, now: datetime
) -> str | None:
    """The webhook route's whole job, quick enough for Zalo's 2 seconds: check the signature
    (X-ZEvent-Signature), then apply a delivery fact; other events change nothing."""
    config, secret = zalo_config(settings), settings.zalo_oa_secret_key
    if config is None or secret is None:
        raise WebhookNotConfiguredError(
            "Zalo or its OA secret key (DONDOC_ZALO_OA_SECRET_KEY) is not set"
        )
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise WebhookError("the body is not JSON") from exc
    timestamp = str(event.get("timestamp", "")) if isinstance(event, dict) else ""
    if not signed(mac, app_id=config.app_id, body=body, timestamp=timestamp,
                  oa_secret=secret.get_secret_value()):  # fmt: skip
        raise WebhookError("the signature does not match")
    fact = delivery_fact(event)
    return apply_fact(engine, fact, now=now) if fact is not None else None


def apply_fact(engine: Engine, fact: DeliveryFact, *, now: datetime) -> str | None:
    """Settle the row a delivery event names; return its state (None: not one of ours)."""
    delivery_id = delivery_of(fact.tracking_id)
    if delivery_id is None:
        return None
    with Session(engine) as session:
        row = session.get(Delivery, delivery_id)
        if row is None or row.channel != "zalo":
            return None
        state = row.state
        if state == "sending":
            session.execute(
                update(Delivery)
                .where(col(Delivery.id) == delivery_id, col(Delivery.state) == "sending")
                .values(provider_id=fact.msg_id)
            )
            session.commit()
    return _settle(engine, delivery_id, fact.msg_id, now) if state == "unknown" else state


def reconcile_unknown(
    engine: Engine, status_of: StatusOf, *, now: datetime, limit: int = 100
) -> Counter[str]:
    """Ask Zalo about up to `limit` unknown rows whose msg_id is known."""
    with Session(engine) as session:
        rows = session.exec(
            select(Delivery.id, Delivery.provider_id)
            .where(Delivery.state == "unknown", Delivery.channel == "zalo",
                   col(Delivery.provider_id).is_not(None))
            .order_by(col(Delivery.id))
            .limit(limit)
        ).all()  # fmt: skip
    summary: Counter[str] = Counter()
    for delivery_id, msg_id in rows:
        try:
            status_of(msg_id or "")
        except ZaloError as exc:  # Zalo could not say: the row stays flagged for the office
            log.info("delivery %s: Zalo status unavailable (%s)", delivery_id, exc.code)
            summary["still unknown"] += 1
            continue
        summary[_settle(engine, delivery_id or 0, msg_id or "", now)] += 1
    return summary


def _settle(engine: Engine, delivery_id: int, msg_id: str, now: datetime) -> str:
    try:
        state = record(engine, delivery_id, Result(Outcome.SENT, provider_id=msg_id),
                       now=now, from_state="unknown")  # fmt: skip
    except RuntimeError:  # settled meanwhile (Zalo retries its webhook; a second worker)
        return "already settled"
    log.info("delivery %s: Zalo has msg %s; unknown -> sent", delivery_id, msg_id)
    return "reconciled" if state == "sent" else state
