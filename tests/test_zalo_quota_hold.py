"""Once Zalo says the day's quota is spent, the rest of the batch waits without asking Zalo
again: one request to the fake Zalo on loopback, every row pending until the next allowed
moment, none lost. A template's own daily limit holds that template only."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.dispatch import Pacer, dispatch
from dondoc.outbox import NewDelivery, enqueue
from dondoc.remindrun import dispatch_due
from dondoc.rules.deadlines import VN_TZ, parse_local_datetime
from dondoc.settings import get_settings
from models import Assignment, Delivery, DeliveryAttempt
from notifications.registry import build_channels
from tests.support.fake_zalo import REMINDER_VALUES, World

pytest_plugins = ["tests.support.fake_zalo"]

QUEUED, NOW, MORNING = "2015-11-17 08:00", "2015-11-17 08:05", "2015-11-18 08:00"


def at(text: str) -> datetime:
    return parse_local_datetime(text, VN_TZ)


def queue(engine: Engine, templates: list[str]) -> None:
    """One Zalo reminder per assignment, in this order, each of the given template."""
    with Session(engine) as session:
        ids = session.exec(select(Assignment.id).order_by(col(Assignment.id))).all()
        rows = [NewDelivery(campaign_id=1, assignment_id=a, step_key="before-3",
                            deadline_version=0, kind="before", channel="zalo",
                            recipient=f"8490000{1000 + i}", not_before=at(QUEUED),
                            params={**REMINDER_VALUES, "template": t})
                for i, (a, t) in enumerate(zip(ids, templates, strict=False))]  # fmt: skip
        assert len(rows) == len(templates)
        enqueue(session, rows, now=at(QUEUED))
        session.commit()


def zalo_rows(engine: Engine) -> list[Delivery]:
    with Session(engine) as session:
        query = select(Delivery).where(Delivery.channel == "zalo").order_by(col(Delivery.id))
        return list(session.exec(query))


def test_after_the_quota_error_the_batch_waits_without_asking_zalo(world: World) -> None:
    world.fake.set_quota(daily=0)
    queue(world.engine, ["before"] * 6)

    summary = dispatch_due(world.engine, now=at(NOW), settings=get_settings(), worker="w",
                           campaign_id=1)  # fmt: skip

    assert world.fake.send_calls == 1
    assert summary["pending"] == 6
    rows = zalo_rows(world.engine)
    assert [(r.state, r.not_before) for r in rows] == [("pending", at(MORNING))] * 6
    with Session(world.engine) as session:
        attempts = session.exec(select(DeliveryAttempt)).all()
    zalo_ids = {r.id for r in rows}
    codes = Counter((a.outcome, a.error_code) for a in attempts if a.delivery_id in zalo_ids)
    assert codes == Counter({("deferred", "-144"): 6})


def test_the_same_channel_asks_zalo_again_once_the_moment_has_come(world: World) -> None:
    world.fake.set_quota(daily=0)
    queue(world.engine, ["before"] * 3)
    channels = build_channels(get_settings())

    assert dispatch(world.engine, channels, now=at(NOW), worker="w") == Counter({"pending": 3})
    assert dispatch(world.engine, channels, now=at("2015-11-17 15:00"), worker="w") == Counter()
    world.fake.set_quota(daily=5000)  # a new day at Zalo
    assert dispatch(world.engine, channels, now=at(MORNING), worker="w") == Counter({"sent": 3})

    assert world.fake.send_calls == 1 + 3
    assert len(world.fake.messages) == 3


def test_a_templates_daily_limit_holds_that_template_only(world: World) -> None:
    world.fake.inject(-147)  # the "before" template's quota for today is spent
    queue(world.engine, ["before", "due_today", "before", "due_today", "before"])

    dispatch_due(world.engine, now=at(NOW), settings=get_settings(), worker="w", campaign_id=1)

    assert world.fake.send_calls == 1 + 2
    rows = zalo_rows(world.engine)
    assert [(r.params["template"], r.state) for r in rows] == [
        ("before", "pending"), ("due_today", "sent"), ("before", "pending"),
        ("due_today", "sent"), ("before", "pending"),
    ]  # fmt: skip
    assert {r.not_before for r in rows if r.state == "pending"} == {at(MORNING)}


def test_a_night_ban_zalo_reports_in_daytime_holds_the_batch_for_five_minutes(
    world: World,
) -> None:
    world.fake.night_ban = True  # Zalo's clock is ahead of ours near 06:00
    queue(world.engine, ["before"] * 4)

    dispatch_due(world.engine, now=at(NOW), settings=get_settings(), worker="w", campaign_id=1)

    assert world.fake.send_calls == 1
    rows = zalo_rows(world.engine)
    assert [(r.state, r.not_before) for r in rows] == [("pending", at("2015-11-17 08:10"))] * 4


class CountingPacer(Pacer):
    def __init__(self) -> None:
        super().__init__({"zalo": 3.0})
        self.waits = 0

    def wait(self, channel: str) -> None:
        self.waits += 1
        super().wait(channel)


def test_rows_held_back_do_not_wait_for_the_pacer(world: World) -> None:
    world.fake.set_quota(daily=0)
    queue(world.engine, ["before"] * 6)
    pacer = CountingPacer()

    dispatch(world.engine, build_channels(get_settings()), now=at(NOW), worker="w", pacer=pacer)

    assert world.fake.send_calls == 1
    assert pacer.waits == 1  # the five held rows cost no request, so no pause either
