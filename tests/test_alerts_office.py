"""Office alerts: a Zalo account that needs a person, or the day's Zalo quota spent, alerts the
office once per kind, campaign and day (once a day across campaigns for the OA's own quota and
account) — by email (a real SMTP server on loopback) and to every
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

from dondoc.plans.loader import load_plan
from dondoc.remindrun import dispatch_due, plan_and_enqueue
from dondoc.rules.deadlines import VN_TZ, parse_local_datetime
from dondoc.settings import SettingsError, get_settings
from dondoc.zalotokens import DatabaseTokenStore
from models import Delivery, ZaloToken
from notifications.apprise_alerts import address
from notifications.registry import build_channels
from tests.support.cli import run
from tests.support.fake_zalo import FakeZalo, World, dondoc_world
from tests.support.files import SEED, copy_examples, replace_once
from tests.support.server import serving
from tests.support.smtp import Inbox

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
        ("email", "oa-alert-zalo-account-2015-11-17", "sent"),
        ("apprise", "oa-alert-zalo-account-2015-11-17", "sent"),
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
    assert keys == ["oa-alert-zalo-quota-low-2015-11-17", "oa-alert-zalo-quota-2015-11-17"]
    low, spent = hook[0].posts
    assert "hạn mức gửi tin Zalo trong ngày sắp hết" in low["title"]
    assert "hết hạn mức gửi tin Zalo trong ngày" in spent["title"]
    assert "08:00 ngày hôm sau" in spent["message"]


def test_zalo_quota_is_kept_from_each_answer_and_a_low_one_alerts_once_a_day(
    world: World, hook: tuple[Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = count_quota_writes(monkeypatch)
    world.fake.set_quota(daily=100, used=88)  # the 3rd message of the day leaves 9: under 1/10
    world.tick(at("2015-11-17 08:05"))
    sent = len(world.fake.messages)
    assert [left for _, left in writes] == [11, 9, 100 - 88 - sent]  # first, low, last
    assert quota(world) == (100, 100 - 88 - sent, at("2015-11-17 08:05"))
    [row] = [r for r in alert_rows(world.engine) if r.channel == "apprise"]
    assert row.step_key == "oa-alert-zalo-quota-low-2015-11-17"
    [post] = hook[0].posts
    assert "hạn mức gửi tin Zalo trong ngày sắp hết" in post["title"]
    assert "còn 9/100 tin trong ngày" in post["message"]  # the first answer under 1/10
    world.tick(at("2015-11-19 07:59"))  # nothing due yet: the quota stays as it was read
    assert quota(world) == (100, 100 - 88 - sent, at("2015-11-17 08:05"))
    world.fake.set_quota(daily=100, used=95)  # a new day, already low (and spent soon after)
    world.tick(at("2015-11-19 08:05"))
    keys = [r.step_key for r in alert_rows(world.engine) if r.channel == "apprise"]
    assert [k for k in keys if "quota-low" in k] == [
        "oa-alert-zalo-quota-low-2015-11-17",
        "oa-alert-zalo-quota-low-2015-11-19",
    ]


def test_a_plentiful_zalo_quota_is_kept_without_alerting(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "quota not read yet" in run(capsys, "zalo", "status").out
    writes = count_quota_writes(monkeypatch)
    world.tick(at("2015-11-17 08:05"))
    assert len(world.fake.messages) > 2
    assert len(writes) == 2  # the first answer at once, the last when the run ends
    left = 5000 - len(world.fake.messages)
    assert quota(world) == (5000, left, at("2015-11-17 08:05"))
    assert alert_rows(world.engine) == []
    shown = run(capsys, "zalo", "status")
    assert shown.code == 0 and f"quota {left}/5000 left at 2015-11-17 08:05" in shown.out


def count_quota_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int | None, int | None]]:
    """Every quota the channel stores: (daily, remaining)."""
    writes: list[tuple[int | None, int | None]] = []
    store = DatabaseTokenStore.note_quota

    def counted(self: DatabaseTokenStore, daily: int | None, left: int | None, at: datetime
                ) -> None:  # fmt: skip
        writes.append((daily, left))
        store(self, daily, left, at)

    monkeypatch.setattr(DatabaseTokenStore, "note_quota", counted)
    return writes


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


def test_a_low_zalo_quota_alerts_each_office_address_once_whatever_the_campaigns(
    world: World, hook: tuple[Receiver, str], tmp_path: Path
) -> None:
    """The quota is the OA's: two plans sending on the same day alert once, not once each."""
    second_plan(world, tmp_path)
    world.fake.set_quota(daily=1000, used=950)  # under a tenth from the first message on
    both_plans_tick(world, at("2015-11-17 08:05"))
    zalo = {r.campaign_id for r in sent_rows(world.engine) if r.channel == "zalo"}
    assert zalo == {1, 2}  # both plans sent on Zalo that morning
    rows = alert_rows(world.engine)
    assert sorted((r.channel, r.recipient) for r in rows) == sorted(
        [("email", a) for a in OFFICE] + [("apprise", address(hook[1]))]
    )
    assert {r.step_key for r in rows} == {"oa-alert-zalo-quota-low-2015-11-17"}
    assert len(hook[0].posts) == 1 and len(alert_mail(world)) == len(OFFICE)


def test_an_alert_about_one_plans_data_still_goes_once_per_plan(
    world: World, tmp_path: Path
) -> None:
    """Not every alert is the OA's: a template refusing one plan's data is that plan's."""
    second_plan(world, tmp_path)
    world.fake.refuse("84900001106", -109)  # both plans remind this department's head
    both_plans_tick(world, at("2015-11-17 08:05"))
    keys = {(r.campaign_id, r.step_key) for r in alert_rows(world.engine) if r.channel == "apprise"}
    assert keys == {(1, "alert-zalo-data-2015-11-17"), (2, "alert-zalo-data-2015-11-17")}


def second_plan(world: World, tmp_path: Path) -> None:
    """Another plan of the same office to the same units (campaign 2), sent the same days."""
    (tmp_path / "second").mkdir()
    second = copy_examples(tmp_path / "second") / SEED
    replace_once(second, "code: q1-so-ket-2015", "code: q1-so-ket-2015-bis")
    replace_once(second, "number: 95/KH-LĐLĐ", "number: 96/KH-LĐLĐ")
    with Session(world.engine) as session:
        load_plan(session, second, now=at("2015-11-05 09:00"), actor="test", tz=VN_TZ)
        session.commit()


def both_plans_tick(world: World, when: datetime) -> None:
    """Each plan sent by its own dispatch run, as two workers or two ticks would: the second
    run's channel notices the low quota afresh (World.tick plans the first plan only)."""
    world.tick(when)
    plan_and_enqueue(world.engine, 2, now=when, settings=get_settings())
    dispatch_due(world.engine, now=when, settings=get_settings(), worker="second")


def sent_rows(engine: Engine) -> list[Delivery]:
    with Session(engine) as session:
        return list(session.exec(select(Delivery).where(Delivery.state == "sent")))


def test_the_next_digest_shows_the_zalo_quota_as_last_read(world: World) -> None:
    world.tick(at("2015-11-17 08:05"))
    left = 5000 - len(world.fake.messages)
    world.tick(at("2015-11-18 08:05"))  # Wednesday's digest, written before its reminders
    [digest] = [m for m in world.inbox.to(OFFICE[0]) if "18/11/2015" in str(m["Subject"])
                and str(m["Subject"]).startswith("Tình hình nộp báo cáo")]  # fmt: skip
    assert ("Hạn mức gửi tin Zalo trong ngày của Official Account: 5000 tin, cấp lại mỗi ngày; "
            f"lần gần nhất Zalo báo còn {left} tin, lúc 08:05 thứ Ba, ngày 17/11/2015."
            ) in Inbox.text(digest)  # fmt: skip
