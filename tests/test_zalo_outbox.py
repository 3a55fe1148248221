"""Zalo through the outbox, against the fake Zalo API on loopback: one message per row, the
night ban and quota deferrals, permanent failures recorded, nothing sent twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.db import session_scope
from dondoc.dispatch import dispatch
from dondoc.outbox import NewDelivery, enqueue
from dondoc.plans.loader import load_plan
from dondoc.rules.deadlines import VN_TZ, parse_local_datetime
from dondoc.zalotokens import DatabaseTokenStore, seed_tokens
from models import Assignment, Delivery, DeliveryAttempt
from notifications.zalo import ZaloClient, ZaloConfig
from notifications.zalochannel import ZaloChannel
from tests.support.fake_zalo import REMINDER_TEMPLATES, REMINDER_VALUES, FakeClock, FakeZalo
from tests.support.files import SEED, copy_examples
from tests.support.server import serving

BEFORE = REMINDER_TEMPLATES["before"]
PARAMS = REMINDER_VALUES


def at(text: str) -> datetime:
    return parse_local_datetime(text, VN_TZ)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeZalo, FakeClock, str]]:
    clock = FakeClock(at("2015-11-19 08:00"))
    fake = FakeZalo(clock=clock, templates={"before": BEFORE})
    with serving(fake.app()) as base:
        yield fake, clock, base


@pytest.fixture
def channel(
    served: tuple[FakeZalo, FakeClock, str], engine: Engine, tmp_path: Path
) -> Iterator[ZaloChannel]:
    fake, clock, base = served
    fake.reset()
    with Session(engine) as session:
        load_plan(session, copy_examples(tmp_path) / SEED, now=clock(), actor="t", tz=VN_TZ)
        session.commit()
    access, refresh = fake.issue_pair()
    with session_scope(engine) as session:
        seed_tokens(session, app_id=fake.app_id, access=access, refresh=refresh,
                    expires_at=clock() + timedelta(hours=25), now=clock())  # fmt: skip
    config = ZaloConfig(app_id=fake.app_id, secret_key=SecretStr(fake.secret_key), base_url=base,
                        oauth_url=f"{base}/v4/oa/access_token", templates={"before": BEFORE},
                        timeout=5)  # fmt: skip
    client = ZaloClient(config, DatabaseTokenStore(engine, fake.app_id, clock=clock), clock=clock)
    yield ZaloChannel(client)
    client.close()


def queue(engine: Engine, when: datetime, n: int = 1) -> None:
    with Session(engine) as session:
        ids = session.exec(select(Assignment.id).order_by(col(Assignment.id))).all()[:n]
        rows = [NewDelivery(campaign_id=1, assignment_id=a, step_key="before-3",
                            deadline_version=0, kind="before", channel="zalo",
                            recipient=f"0900 000 {100 + i}", not_before=when, params=PARAMS)
                for i, a in enumerate(ids)]  # fmt: skip
        enqueue(session, rows, now=when)
        session.commit()


def test_each_row_is_one_template_message(
    engine: Engine, channel: ZaloChannel, served: tuple[FakeZalo, FakeClock, str]
) -> None:
    fake = served[0]
    queue(engine, at("2015-11-19 08:00"), n=3)
    now = at("2015-11-19 08:05")
    assert dispatch(engine, {"zalo": channel}, now=now, worker="w") == Counter({"sent": 3})
    assert dispatch(engine, {"zalo": channel}, now=now, worker="w") == Counter()
    assert len(fake.messages) == 3
    assert {m["tracking_id"] for m in fake.messages} == {"dondoc1", "dondoc2", "dondoc3"}
    assert fake.messages[0]["template_data"]["unit"] == "UBND P. Bến Nghé"
    with Session(engine) as session:
        assert all(d.provider_id for d in session.exec(select(Delivery)))


def test_nothing_is_sent_in_the_night_ban(
    engine: Engine, channel: ZaloChannel, served: tuple[FakeZalo, FakeClock, str]
) -> None:
    queue(engine, at("2015-11-19 22:00"))
    assert dispatch(engine, {"zalo": channel}, now=at("2015-11-19 22:30"), worker="w") == (
        Counter({"pending": 1})
    )
    assert served[0].messages == []
    with Session(engine) as session:
        assert session.exec(select(Delivery)).one().not_before == at("2015-11-20 06:00")


@pytest.mark.parametrize(
    ("code", "state", "not_before"),
    [
        (-108, "failed", None),  # bad phone: permanent (falls back to email)
        (-144, "pending", "2015-11-20 08:00"),  # the OA's daily quota: tomorrow morning
        (-100, "pending", "2015-11-19 08:06"),  # transient: the outbox's first backoff
        (-101, "failed", None),  # the account needs a person
    ],
)
def test_zalo_errors_become_outcomes(
    engine: Engine,
    channel: ZaloChannel,
    served: tuple[FakeZalo, FakeClock, str],
    code: int,
    state: str,
    not_before: str | None,
) -> None:
    served[0].inject(code)
    queue(engine, at("2015-11-19 08:00"))
    now = at("2015-11-19 08:05")
    assert dispatch(engine, {"zalo": channel}, now=now, worker="w") == Counter({state: 1})
    with Session(engine) as session:
        row = session.exec(select(Delivery)).one()
        attempt = session.exec(select(DeliveryAttempt)).one()
    assert attempt.error_code == str(code)
    if not_before:
        assert row.not_before == at(not_before)
