"""The Zalo client end to end against the fake Zalo API served over HTTP on loopback: token
expiry and single-use rotation, concurrent dispatchers sharing the database token store (SQLite
and PostgreSQL) causing exactly one refresh, each error class, the quota, the night ban, and a
read timeout that leaves exactly one message at Zalo. One clock for the fake, the client and
the store, moved by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session, select

from dondoc.db import make_engine, session_scope
from dondoc.zalotokens import DatabaseTokenStore, seed_tokens
from models import ZaloToken
from notifications.zalo import TokenPair, TokenStore, ZaloClient, ZaloConfig, ZaloError
from tests.support.fake_zalo import TEMPLATES, FakeClock, FakeZalo, MemoryTokenStore, hanoi
from tests.support.server import free_port, serving

START = hanoi("2015-11-23 09:00")  # Monday morning in Hà Nội
DAY = timedelta(hours=25)  # the access token's lifetime at Zalo
DATA = {
    "ten_don_vi": "CĐCS phường Bến Nghé",
    "noi_dung": "Báo cáo sơ kết quý I",
    "han_nop": "24/11/2015",
    "ma_don_vi": "Q1-CD001",
}


@dataclass
class Zalo:
    fake: FakeZalo
    clock: FakeClock
    config: ZaloConfig

    def client(self, store: TokenStore, **changes: Any) -> ZaloClient:
        return ZaloClient(self.config.model_copy(update=changes), store, clock=self.clock)

    def memory_store(self) -> MemoryTokenStore:
        access, refresh = self.fake.issue_pair()
        return MemoryTokenStore(TokenPair(access, refresh, self.clock() + DAY))

    def database_store(self, engine: Engine) -> DatabaseTokenStore:
        access, refresh = self.fake.issue_pair()
        self.seed(engine, access, refresh)
        return DatabaseTokenStore(engine, self.config.app_id, clock=self.clock)

    def seed(self, engine: Engine, access: str, refresh: str, lifetime: timedelta = DAY) -> None:
        with session_scope(engine) as session:
            seed_tokens(
                session,
                app_id=self.config.app_id,
                access=access,
                refresh=refresh,
                expires_at=self.clock() + lifetime,
                now=self.clock(),
            )


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeZalo, FakeClock, str]]:
    clock = FakeClock(START)
    fake = FakeZalo(clock=clock)
    with serving(fake.app()) as base:
        yield fake, clock, base


@pytest.fixture
def zalo(served: tuple[FakeZalo, FakeClock, str]) -> Zalo:
    fake, clock, base = served
    fake.reset()
    clock.now = START
    config = ZaloConfig(
        app_id=fake.app_id,
        secret_key=SecretStr(fake.secret_key),
        base_url=base,
        oauth_url=f"{base}/v4/oa/access_token",
        templates=TEMPLATES,
        timeout=5,
    )
    return Zalo(fake, clock, config)


def send(client: ZaloClient, tracking: str = "dondoc1", phone: str = "0912 345 678") -> str:
    result = client.send_template(phone=phone, kind="before", data=DATA, tracking_id=tracking)
    return result.msg_id


def failure(client: ZaloClient) -> ZaloError:
    with pytest.raises(ZaloError) as caught:
        send(client)
    return caught.value


def stored(engine: Engine) -> ZaloToken:
    with Session(engine) as session:
        return session.exec(select(ZaloToken)).one()


def test_it_sends_a_template_message_and_reads_the_quota(zalo: Zalo) -> None:
    with zalo.client(zalo.memory_store()) as client:
        result = client.send_template(
            phone="+84 912 345 678", kind="before", data=DATA, tracking_id="dondoc7"
        )
    [message] = zalo.fake.messages
    assert message["phone"] == "84912345678" and message["tracking_id"] == "dondoc7"
    assert message["template_data"] == DATA and "mode" not in message
    assert (result.msg_id, result.sent_time) == (message["msg_id"], START)
    assert (result.quota_daily, result.quota_remaining) == (5000, 4999)


def test_development_mode_reaches_the_fake(zalo: Zalo) -> None:
    with zalo.client(zalo.memory_store(), development=True) as client:
        send(client)
    assert zalo.fake.messages[0]["mode"] == "development"


# Tokens.


def rotate(zalo: Zalo, engine: Engine) -> tuple[DatabaseTokenStore, TokenPair]:
    """Seed a pair, expire it at Zalo and send once (which rotates it); return the spent pair."""
    store = zalo.database_store(engine)
    spent = store.current()
    zalo.fake.expire_tokens()
    with zalo.client(store) as client:
        send(client)
    return store, spent


def test_an_expired_token_is_rotated_once_and_the_old_refresh_token_dies(
    engine: Engine, zalo: Zalo
) -> None:
    store, old = rotate(zalo, engine)
    new = store.current()
    assert (zalo.fake.refresh_calls, zalo.fake.rejected_tokens, len(zalo.fake.messages)) == (
        1,
        1,
        1,
    )
    assert new.version == old.version + 1 == stored(engine).version
    assert new.refresh_token != old.refresh_token and new.expires_at == START + DAY
    form = {
        "app_id": zalo.config.app_id,
        "grant_type": "refresh_token",
        "refresh_token": old.refresh_token,
    }
    headers = {"secret_key": zalo.fake.secret_key}
    answer = httpx.post(zalo.config.oauth_url, data=form, headers=headers).json()
    assert "access_token" not in answer and answer["error_reason"] == "Invalid refresh token"


def test_short_lived_tokens_are_refreshed_ahead_of_expiry_never_refused(
    engine: Engine, zalo: Zalo
) -> None:
    zalo.fake.access_lifetime = timedelta(minutes=30)
    access, refresh = zalo.fake.issue_pair()
    zalo.seed(engine, access, refresh, lifetime=zalo.fake.access_lifetime)
    store = DatabaseTokenStore(engine, zalo.config.app_id, clock=zalo.clock)
    with zalo.client(store) as client:
        for n in range(10):  # every 15 minutes: refreshes at 30, 60, 90 and 120 minutes
            send(client, tracking=f"dondoc{n + 1}")
            zalo.clock.advance(minutes=15)
    assert (zalo.fake.rejected_tokens, zalo.fake.refresh_calls) == (0, 4)
    assert len(zalo.fake.messages) == 10 and stored(engine).version == 4


def test_a_token_still_refused_after_one_refresh_is_not_refreshed_again(zalo: Zalo) -> None:
    zalo.fake.inject(-124, times=2)
    with zalo.client(zalo.memory_store()) as client:
        assert failure(client).kind == "invalid_token"
    assert (zalo.fake.refresh_calls, zalo.fake.send_calls, zalo.fake.messages) == (1, 2, [])


def test_a_stale_token_is_refreshed_once_and_the_send_retried_once(zalo: Zalo) -> None:
    zalo.fake.inject(-124)
    with zalo.client(zalo.memory_store()) as client:
        send(client)
    assert (zalo.fake.refresh_calls, zalo.fake.send_calls, len(zalo.fake.messages)) == (1, 2, 1)


@pytest.mark.parametrize("stale", ["expired at Zalo", "about to expire"])
def test_concurrent_dispatchers_cause_exactly_one_refresh(
    engine: Engine, env: str, zalo: Zalo, stale: str
) -> None:
    zalo.database_store(engine)
    if stale == "expired at Zalo":
        zalo.fake.expire_tokens()
    else:
        zalo.clock.advance(hours=24, minutes=55)  # five minutes left: everyone refreshes early
    zalo.fake.refresh_delay = 0.2  # the others pile up on the lock meanwhile
    workers = 8
    start = threading.Barrier(workers, timeout=30)

    def dispatcher(n: int) -> str:
        own = make_engine(env)  # connections of its own, like another process
        try:
            store = DatabaseTokenStore(own, zalo.config.app_id, clock=zalo.clock)
            with zalo.client(store) as client:
                start.wait()
                return send(client, tracking=f"dondoc{n}")
        finally:
            own.dispose()

    with ThreadPoolExecutor(workers) as pool:
        msg_ids = set(pool.map(dispatcher, range(1, workers + 1)))
    assert zalo.fake.refresh_calls == 1
    assert len(msg_ids) == len(zalo.fake.messages) == workers
    assert stored(engine).version == 1


def test_a_worker_with_a_stale_pair_takes_the_stored_one_without_calling_zalo(
    engine: Engine, zalo: Zalo
) -> None:
    store = zalo.database_store(engine)
    stale = store.current()
    with zalo.client(store) as client:
        fresh = store.refresh(stale, client.refresh_call)

    def must_not_run(_: str) -> TokenPair:
        raise AssertionError("Zalo called again")

    assert store.refresh(stale, must_not_run) == fresh == store.current()
    assert zalo.fake.refresh_calls == 1


def test_a_spent_refresh_token_needs_a_person_and_stops_further_sends(
    engine: Engine, zalo: Zalo
) -> None:
    store, spent = rotate(zalo, engine)
    zalo.seed(engine, spent.access_token, spent.refresh_token)  # e.g. an old backup restored
    with zalo.client(store) as client:
        error = failure(client)
        assert (error.kind, error.alert_office) == ("needs_person", True)
        assert stored(engine).needs_reauthorisation
        calls = (zalo.fake.refresh_calls, zalo.fake.send_calls)
        assert failure(client).code == "reauthorise"
    assert (zalo.fake.refresh_calls, zalo.fake.send_calls) == calls
    fresh_access, fresh_refresh = zalo.fake.issue_pair()  # a person re-authorised the app
    zalo.seed(engine, fresh_access, fresh_refresh)
    with zalo.client(store) as client:
        send(client)
    assert not stored(engine).needs_reauthorisation


# Error classes.


@pytest.mark.parametrize(
    ("code", "kind", "fallback"),
    [
        (-100, "transient", False),
        (-32, "transient", False),
        (-147, "deferred", False),
        (-115, "deferred", False),
        (-131, "permanent", False),
        (-118, "permanent", True),
        (-141, "permanent", True),
        (-101, "needs_person", False),
    ],
)
def test_each_error_class_comes_back_classified_and_nothing_is_sent(
    zalo: Zalo, code: int, kind: str, fallback: bool
) -> None:
    zalo.fake.inject(code)
    with zalo.client(zalo.memory_store()) as client:
        error = failure(client)
    assert (error.code, error.kind, error.fallback_to_email) == (str(code), kind, fallback)
    assert (zalo.fake.send_calls, zalo.fake.messages) == (1, [])


def test_a_template_zalo_does_not_know_is_permanent(zalo: Zalo) -> None:
    unknown = TEMPLATES["before"].model_copy(update={"template_id": "999999"})
    with zalo.client(zalo.memory_store(), templates={"before": unknown}) as client:
        error = failure(client)
    assert (error.code, error.kind, error.alert_office) == ("-109", "permanent", True)


def test_quota_exhaustion_is_deferred_to_eight_the_next_morning(zalo: Zalo) -> None:
    zalo.fake.set_quota(daily=2)
    zalo.clock.now = hanoi("2015-11-23 15:00")
    with zalo.client(zalo.memory_store()) as client:
        remaining = [
            client.send_template(
                phone="0912345678", kind="before", data=DATA, tracking_id=f"dondoc{n}"
            ).quota_remaining
            for n in (1, 2)
        ]
        error = failure(client)
    assert remaining == [1, 0] and len(zalo.fake.messages) == 2
    assert (error.code, error.kind, error.alert_office) == ("-144", "deferred", True)
    assert error.retry_at(zalo.clock()) == hanoi("2015-11-24 08:00")


def test_the_night_ban_is_deferred_to_six_in_the_morning(zalo: Zalo) -> None:
    zalo.fake.night_ban = True
    zalo.clock.now = hanoi("2015-11-23 22:30")
    with zalo.client(zalo.memory_store()) as client:
        error = failure(client)
    assert (error.code, error.kind, error.permanent) == ("-133", "deferred", False)
    assert error.retry_at(zalo.clock()) == hanoi("2015-11-24 06:00")
    assert zalo.fake.messages == []


def test_a_read_timeout_is_unknown_and_zalo_got_the_message_once(zalo: Zalo) -> None:
    zalo.fake.delay = 0.8
    with zalo.client(zalo.memory_store(), timeout=0.3) as client:
        error = failure(client)
    assert (error.kind, error.permanent) == ("unknown", True)
    time.sleep(0.8)  # the fake has answered by now, to nobody
    assert (zalo.fake.send_calls, len(zalo.fake.messages)) == (1, 1)


def test_nobody_listening_is_transient(zalo: Zalo) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with zalo.client(zalo.memory_store(), base_url=nowhere) as client:
        assert failure(client).kind == "transient"


# The fake itself: Zalo's checks and the switches over HTTP.


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"phone": "0912345678"}, -108),
        ({"template_id": "1"}, -109),
        ({"template_data": {}}, -111),
        ({"template_data": {"ten_don_vi": "x"}}, -1122),
        ({"template_data": DATA | {"han_nop": 24}}, -1124),
        ({"template_data": DATA | {"han_nop": "x" * 21}}, -1121),
        ({"tracking_id": "x" * 49}, -112),
        ({"tracking_id": "dondoc-1"}, -112),
    ],
)
def test_the_fake_checks_requests_like_zalo(
    zalo: Zalo, change: dict[str, object], code: int
) -> None:
    access, _ = zalo.fake.issue_pair()
    body = {
        "phone": "84912345678",
        "template_id": "301001",
        "template_data": DATA,
        "tracking_id": "dondoc1",
    } | change
    url = f"{zalo.config.base_url}/message/template"
    answer = httpx.post(url, json=body, headers={"access_token": access})
    assert (answer.status_code, answer.json()["error"]) == (200, code)
    wrong_token = httpx.post(url, json=body, headers={"access_token": "forged"})
    assert wrong_token.json()["error"] == -124


def test_the_switches_work_over_http_for_other_processes(zalo: Zalo) -> None:
    base, store = zalo.config.base_url, zalo.memory_store()
    httpx.post(f"{base}/_fake/errors", params={"code": -100, "times": 1})
    with zalo.client(store) as client:
        assert failure(client).kind == "transient"
        send(client)
        httpx.post(f"{base}/_fake/expire-tokens")
        send(client)
        httpx.post(f"{base}/_fake/night-ban", params={"on": True})
        assert failure(client).code == "-133"
    assert len(httpx.get(f"{base}/_fake/messages").json()) == 2
    assert zalo.fake.refresh_calls == 1
