"""Office alerts: a Zalo account that needs a person, or the day's Zalo quota spent, alerts the
office once per kind, campaign and day — by email (a real SMTP server on loopback) and to every
Apprise URL in DONDOC_ALERT_URLS (here json:// to a small HTTP receiver on loopback)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.rules.deadlines import VN_TZ, parse_local_datetime
from dondoc.settings import SettingsError, get_settings
from models import Delivery, ZaloToken
from notifications.apprise_alerts import address
from notifications.registry import build_channels
from tests.support.cli import run
from tests.support.fake_zalo import FakeZalo, World, dondoc_world
from tests.support.server import serving

OFFICE = ["chanhvanphong.ldld-q1-vp@example.invalid", "vanthu.ldld-q1-vp@example.invalid"]
PASSWORD = "s3cret-hook-pass"

pytest_plugins = ["tests.support.fake_zalo"]


def at(text: str) -> datetime:
    return parse_local_datetime(text, VN_TZ)


class Receiver:
    """What the office's own service (Telegram, a chat hook…) would get."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    def app(self) -> FastAPI:
        api = FastAPI()
        api.get("/healthz")(lambda: {"ok": True})

        @api.post("/alerts")
        async def alerts(request: Request) -> dict[str, bool]:
            self.posts.append(json.loads(await request.body()))
            return {"ok": True}

        return api


@pytest.fixture(scope="module")
def hook() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with serving(receiver.app()) as base:
        yield receiver, base.replace("http://", f"json://office:{PASSWORD}@") + "/alerts"


@pytest.fixture
def world(
    engine: Engine,
    zalo_served: tuple[FakeZalo, str],
    hook: tuple[Receiver, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    hook[0].posts.clear()
    monkeypatch.setenv("DONDOC_ALERT_URLS", json.dumps([hook[1]]))
    with dondoc_world(engine, zalo_served, tmp_path, monkeypatch) as world:
        yield world


def alert_rows(engine: Engine) -> list[Delivery]:
    with Session(engine) as session:
        query = select(Delivery).where(Delivery.kind == "alert").order_by(col(Delivery.id))
        return list(session.exec(query))


def alert_mail(world: World) -> list[str]:
    return [
        str(m["Subject"])
        for a in OFFICE
        for m in world.inbox.to(a)
        if "Cảnh báo" in str(m["Subject"])
    ]


def test_an_account_that_needs_a_person_alerts_the_office_once_a_day(
    world: World, hook: tuple[Receiver, str]
) -> None:
    world.fake.refuse("84900001106", -101)  # two departments' heads: the same cause twice
    world.fake.refuse("84900001107", -101)
    world.tick(at("2015-11-17 08:05"))

    rows = alert_rows(world.engine)
    assert {(r.channel, r.step_key, r.state) for r in rows} == {
        ("email", "alert-zalo-account-2015-11-17", "sent"),
        ("apprise", "alert-zalo-account-2015-11-17", "sent"),
    }
    assert sorted(r.recipient for r in rows if r.channel == "email") == OFFICE
    assert alert_mail(world) == ["Cảnh báo: tài khoản Zalo cần người xử lý (Kế hoạch số "
                                 "95/KH-LĐLĐ)"] * 2  # fmt: skip
    [post] = hook[0].posts
    assert post["title"].startswith("Cảnh báo: tài khoản Zalo cần người xử lý")
    assert "Mã lỗi: -101" in post["message"] and "dondoc zalo tokens" in post["message"]

    world.fake.refuse("84900001108", -101)  # later the same day: no second alert
    world.tick(at("2015-11-17 10:00"))
    assert len(hook[0].posts) == 1 and len(alert_rows(world.engine)) == 3


def test_the_days_zalo_quota_spent_alerts_once_and_waits_for_the_morning(
    world: World, hook: tuple[Receiver, str]
) -> None:
    world.fake.set_quota(daily=2)
    world.tick(at("2015-11-17 08:05"))
    with Session(world.engine) as session:
        deferred = session.exec(
            select(Delivery).where(Delivery.channel == "zalo", Delivery.state == "pending")
        ).all()
    assert deferred and all(d.not_before == at("2015-11-18 08:00") for d in deferred)
    # 1 of 2 left after the first message: low; then spent. One alert of each kind.
    keys = [r.step_key for r in alert_rows(world.engine) if r.channel == "apprise"]
    assert keys == ["alert-zalo-quota-low-2015-11-17", "alert-zalo-quota-2015-11-17"]
    low, spent = hook[0].posts
    assert "hạn mức gửi tin Zalo trong ngày sắp hết" in low["title"]
    assert "hết hạn mức gửi tin Zalo trong ngày" in spent["title"]
    assert "08:00 ngày hôm sau" in spent["message"]


def test_zalo_quota_is_kept_from_each_answer_and_a_low_one_alerts_once_a_day(
    world: World, hook: tuple[Receiver, str]
) -> None:
    world.fake.set_quota(daily=100, used=88)  # the 3rd message of the day leaves 9: under 1/10
    world.tick(at("2015-11-17 08:05"))
    sent = len(world.fake.messages)
    assert quota(world) == (100, 100 - 88 - sent, at("2015-11-17 08:05"))
    [row] = [r for r in alert_rows(world.engine) if r.channel == "apprise"]
    assert row.step_key == "alert-zalo-quota-low-2015-11-17"
    [post] = hook[0].posts
    assert "hạn mức gửi tin Zalo trong ngày sắp hết" in post["title"]
    assert "còn 9/100 tin trong ngày" in post["message"]  # the first answer under 1/10
    world.tick(at("2015-11-19 07:59"))  # nothing due yet: the quota stays as it was read
    assert quota(world) == (100, 100 - 88 - sent, at("2015-11-17 08:05"))
    world.fake.set_quota(daily=100, used=95)  # a new day, already low (and spent soon after)
    world.tick(at("2015-11-19 08:05"))
    keys = [r.step_key for r in alert_rows(world.engine) if r.channel == "apprise"]
    assert [k for k in keys if "quota-low" in k] == [
        "alert-zalo-quota-low-2015-11-17",
        "alert-zalo-quota-low-2015-11-19",
    ]


def test_a_plentiful_zalo_quota_is_kept_without_alerting(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "quota not read yet" in run(capsys, "zalo", "status").out
    world.tick(at("2015-11-17 08:05"))
    assert world.fake.messages
    left = 5000 - len(world.fake.messages)
    assert quota(world) == (5000, left, at("2015-11-17 08:05"))
    assert alert_rows(world.engine) == []
    shown = run(capsys, "zalo", "status")
    assert shown.code == 0 and f"quota {left}/5000 left at 2015-11-17 08:05" in shown.out


def quota(world: World) -> tuple[int | None, int | None, datetime | None]:
    with Session(world.engine) as session:
        row = session.exec(select(ZaloToken)).one()
        return row.quota_daily, row.quota_remaining, row.quota_at


def test_the_alert_url_secret_is_never_stored_nor_logged(
    world: World, hook: tuple[Receiver, str], caplog: pytest.LogCaptureFixture
) -> None:
    world.fake.refuse("84900001106", -101)
    with caplog.at_level(logging.INFO):
        world.tick(at("2015-11-17 08:05"))
    [row] = [r for r in alert_rows(world.engine) if r.channel == "apprise"]
    assert row.recipient == address(hook[1]) and PASSWORD not in row.recipient
    assert PASSWORD not in caplog.text
    assert len(hook[0].posts) == 1


def test_an_alert_url_apprise_does_not_know_stops_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DONDOC_ALERT_URLS", json.dumps(["nosuchservice://token@host"]))
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="DONDOC_ALERT_URLS"):
        build_channels(get_settings())
    get_settings.cache_clear()
