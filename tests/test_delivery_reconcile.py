"""Zalo rows left `unknown` are settled from what Zalo says — its signed delivery webhook (by
tracking id) or GET /message/status (by msg_id) — never by sending again; what stays unknown
is listed in the office's digest. Against the fake Zalo on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.digest import plan_digest
from dondoc.outbox import NewDelivery, claim, enqueue, mark_sending, recover
from dondoc.reconcile import WebhookError, accept_delivery_event, apply_fact
from dondoc.remindrun import dispatch_due
from dondoc.rules.deadlines import VN_TZ, parse_local_datetime
from dondoc.settings import get_settings
from models import Assignment, Campaign, Delivery, DeliveryAttempt
from notifications.registry import build_channels
from notifications.zalowebhook import DeliveryFact, delivery_fact
from tests.support.fake_zalo import REMINDER_VALUES, FakeZalo, World

PHONE = "84900000101"

pytest_plugins = ["tests.support.fake_zalo"]


def at(text: str) -> datetime:
    return parse_local_datetime(text, VN_TZ)


def queue_one(engine: Engine) -> int:
    """One Zalo reminder to one unit, due now."""
    with Session(engine) as session:
        assignment = session.exec(select(Assignment.id).order_by(col(Assignment.id))).first()
        row = NewDelivery(campaign_id=1, assignment_id=assignment, step_key="before-3",
                          deadline_version=0, kind="before", channel="zalo", recipient=PHONE,
                          not_before=at("2015-11-17 08:00"), params=REMINDER_VALUES)  # fmt: skip
        enqueue(session, [row], now=at("2015-11-17 08:00"))
        session.commit()
        return session.exec(select(Delivery.id)).one() or 0


def row(engine: Engine, delivery_id: int) -> Delivery:
    with Session(engine) as session:
        return session.get_one(Delivery, delivery_id)


def webhook(fake: FakeZalo, engine: Engine, now: datetime) -> str | None:
    """Zalo posts its delivery event for the one message it has; the route passes it on."""
    [message] = fake.messages
    body, headers = fake.delivery_event(message)
    mac = headers["X-ZEvent-Signature"]
    return accept_delivery_event(engine, body, mac, settings=get_settings(), now=now)


def test_a_timeout_after_sending_is_unknown_then_settled_by_the_webhook(world: World) -> None:
    delivery_id = queue_one(world.engine)
    world.fake.delay = 3  # longer than the client's timeout (2 s): Zalo has it, we never hear
    now = at("2015-11-17 08:05")
    assert dispatch_due(world.engine, now=now, settings=get_settings(), worker="w") == (
        Counter({"unknown": 1})
    )
    world.fake.delay = 0
    assert row(world.engine, delivery_id).state == "unknown"
    assert dispatch_due(world.engine, now=now, settings=get_settings(), worker="w") == Counter()

    assert webhook(world.fake, world.engine, at("2015-11-17 08:06")) == "reconciled"
    settled = row(world.engine, delivery_id)
    assert (settled.state, settled.provider_id) == ("sent", world.fake.messages[0]["msg_id"])
    assert webhook(world.fake, world.engine, at("2015-11-17 08:36")) == "sent"  # Zalo retries
    assert len(world.fake.messages) == 1  # never sent twice
    with Session(world.engine) as session:
        outcomes = session.exec(
            select(DeliveryAttempt.outcome).order_by(col(DeliveryAttempt.id))
        ).all()
    assert outcomes == ["unknown", "sent"]


def test_a_crash_while_sending_is_settled_by_the_status_endpoint(world: World) -> None:
    delivery_id = queue_one(world.engine)
    now = at("2015-11-17 08:05")
    [claimed] = claim(world.engine, now=now, worker="w", limit=10)
    assert mark_sending(world.engine, claimed, now=now, worker="w")
    zalo = build_channels(get_settings())["zalo"]
    zalo.send(row(world.engine, delivery_id), now=now)  # Zalo has it; then the worker dies
    # The webhook comes while the row is still `sending`: only its msg_id is noted.
    assert webhook(world.fake, world.engine, now) == "sending"
    assert recover(world.engine, now=now + timedelta(minutes=20),
                   stale_after=timedelta(minutes=15)) == (0, 1)  # fmt: skip
    assert row(world.engine, delivery_id).state == "unknown"

    later = at("2015-11-17 08:30")
    assert dispatch_due(world.engine, now=later, settings=get_settings(), worker="w") == (
        Counter({"reconciled": 1})
    )
    assert row(world.engine, delivery_id).state == "sent"
    assert len(world.fake.messages) == 1


def test_what_zalo_cannot_settle_stays_unknown_and_the_digest_lists_it(world: World) -> None:
    delivery_id = queue_one(world.engine)
    now = at("2015-11-17 08:05")
    claim(world.engine, now=now, worker="w", limit=10)
    mark_sending(world.engine, delivery_id, now=now, worker="w")
    recover(world.engine, now=now + timedelta(minutes=20), stale_after=timedelta(minutes=15))
    with Session(world.engine) as session:  # a msg_id Zalo does not know
        session.get_one(Delivery, delivery_id).provider_id = "no-such-message"
        session.commit()

    summary = dispatch_due(world.engine, now=at("2015-11-17 08:30"), settings=get_settings(),
                           worker="w")  # fmt: skip
    assert summary == Counter({"still unknown": 1})
    assert row(world.engine, delivery_id).state == "unknown" and world.fake.messages == []
    with Session(world.engine) as session:
        campaign = session.get_one(Campaign, 1)
        [digest, *_] = plan_digest(session, campaign, now=at("2015-11-18 08:05"),
                                   settings=get_settings())  # fmt: skip
    assert "V. TIN NHẮN CHƯA RÕ KẾT QUẢ (1)" in (digest.body or "")
    assert "1. Ban Tổ chức Liên đoàn Lao động quận 1 – Nhắc trước hạn – Zalo" in (digest.body or "")


def test_a_forged_or_foreign_event_settles_nothing(world: World) -> None:
    delivery_id = queue_one(world.engine)
    dispatch_due(world.engine, now=at("2015-11-17 08:05"), settings=get_settings(), worker="w")
    [message] = world.fake.messages
    body, headers = world.fake.delivery_event(message)
    mac, now = headers["X-ZEvent-Signature"], at("2015-11-17 08:06")
    forged = body.replace(b"user_received_message", b"user_received_messagX")
    with pytest.raises(WebhookError, match="signature"):
        accept_delivery_event(world.engine, forged, mac, settings=get_settings(), now=now)
    with pytest.raises(WebhookError, match="JSON"):
        accept_delivery_event(world.engine, b"<html>", mac, settings=get_settings(), now=now)
    event = json.loads(body)
    assert delivery_fact({"event_name": "user_seen_message", "message": event["message"]}) is None
    other = DeliveryFact("somebodyelse42", "abc", None)
    assert apply_fact(world.engine, other, now=now) is None
    assert row(world.engine, delivery_id).state == "sent"
