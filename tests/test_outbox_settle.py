"""The office's decision on a Zalo message whose outcome stayed unknown, through the real
`dondoc` entry point: listed, then confirmed sent or sent again — once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from dondoc.remindrun import dispatch_due
from dondoc.rules.deadlines import VN_TZ, parse_local_datetime
from dondoc.settings import get_settings
from tests.support.cli import run
from tests.support.fake_zalo import World
from tests.test_delivery_reconcile import queue_one, row

pytest_plugins = ["tests.support.fake_zalo"]
Capsys = pytest.CaptureFixture[str]


def at(text: str) -> datetime:
    return parse_local_datetime(text, VN_TZ)


def unknown_message(world: World) -> int:
    delivery_id = queue_one(world.engine)
    world.fake.delay = 3  # longer than the client's timeout: Zalo has it, we never hear
    sent = dispatch_due(
        world.engine, now=at("2015-11-17 08:05"), settings=get_settings(), worker="w"
    )
    assert sent == Counter({"unknown": 1})
    world.fake.delay = 0
    return delivery_id


def test_a_message_sent_again_by_the_office_goes_out_once_more(
    world: World, capsys: Capsys
) -> None:
    delivery_id = unknown_message(world)

    listed = run(capsys, "outbox", "unknown", "q1-so-ket-2015")
    settled = run(capsys, "outbox", "settle", str(delivery_id), "--resend", "--by", "vanphong",
                  "--at", "2015-11-17 08:30")  # fmt: skip
    sent = dispatch_due(
        world.engine, now=at("2015-11-17 09:00"), settings=get_settings(), worker="w"
    )
    again = run(capsys, "outbox", "settle", str(delivery_id), "--sent")

    assert listed.code == 0 and listed.out.split()[:5] == [
        str(delivery_id), "LDLD-Q1-BTC", "before-3", "zalo", "84900***101",
    ]  # fmt: skip
    assert (settled.code, settled.out.strip()) == (0, f"delivery {delivery_id}: pending")
    assert sent == Counter({"sent": 1}) and len(world.fake.messages) == 2
    assert row(world.engine, delivery_id).state == "sent"
    assert again.code == 1 and "is not waiting for a decision" in again.err


def test_a_message_confirmed_by_the_office_is_never_sent_again(
    world: World, capsys: Capsys
) -> None:
    delivery_id = unknown_message(world)

    settled = run(capsys, "outbox", "settle", str(delivery_id), "--sent")
    later = dispatch_due(
        world.engine, now=at("2015-11-17 09:00"), settings=get_settings(), worker="w"
    )

    assert settled.code == 0 and row(world.engine, delivery_id).state == "sent"
    assert later == Counter() and len(world.fake.messages) == 1
    assert (
        "no message with an unknown outcome"
        in run(capsys, "outbox", "unknown", "q1-so-ket-2015").out
    )
