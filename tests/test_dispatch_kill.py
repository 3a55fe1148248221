"""Exactly once under real faults: a dispatcher process killed between its claim and the send,
or between the send and the record; then the flow's recovery and dispatch run again; and two
dispatcher processes at once on PostgreSQL. What counts is what the SMTP server (aiosmtpd on
loopback) and the fake Zalo (HTTP on loopback) received: one message per outbox row, none lost,
none twice. The dispatchers are child processes (tests.support.dispatcher_process) that die by
os._exit at the exact point, as a kill -9 would leave them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.db import session_scope
from dondoc.dispatch import dispatch
from dondoc.outbox import NewDelivery, enqueue
from dondoc.plans.loader import load_plan
from dondoc.remindrun import recheck_reminders
from dondoc.rules.deadlines import VN_TZ
from dondoc.zalotokens import seed_tokens
from flows.reminders import recover_stale
from models import Assignment, Delivery, DeliveryAttempt, Requirement
from tests.support.dispatcher_process import KILLED, NOW, ZaloSetup, channels
from tests.support.fake_zalo import FakeClock, FakeZalo
from tests.support.files import SEED, copy_examples
from tests.support.server import serving
from tests.support.smtp import Inbox
from tests.test_reminders_flow import mail  # noqa: F401 (a fixture)
from tests.test_zalo_outbox import BEFORE, PARAMS

ROOT = Path(__file__).resolve().parents[1]
LATER = NOW + timedelta(minutes=30)  # the next tick: the dead worker's claim is stale by then


@pytest.fixture(scope="module")
def fake_zalo() -> Iterator[tuple[FakeZalo, str]]:
    fake = FakeZalo(clock=FakeClock(NOW), templates={"before": BEFORE})
    with serving(fake.app()) as base:
        yield fake, base


@pytest.fixture
def zalo(engine: Engine, fake_zalo: tuple[FakeZalo, str], tmp_path: Path) -> ZaloSetup:
    """The seed campaign loaded, and the fake's first token pair in the database."""
    fake, base = fake_zalo
    fake.reset()
    with Session(engine) as session:
        load_plan(session, copy_examples(tmp_path) / SEED, now=NOW, actor="t", tz=VN_TZ)
        session.commit()
    access, refresh = fake.issue_pair()
    with session_scope(engine) as session:
        seed_tokens(session, app_id=fake.app_id, access=access, refresh=refresh,
                    expires_at=NOW + timedelta(hours=25), now=NOW)  # fmt: skip
    return ZaloSetup(base, fake.app_id, fake.secret_key)


def queue(engine: Engine, channel: str, n: int, first: int = 0) -> list[int]:
    """n reminder rows on one channel, one recipient each, due now; their ids."""
    with Session(engine) as session:
        # The CĐCS, due Tue 24/11: their T−3 is NOW, so the re-check lets "before-3" through
        # (the departments, due Fri 20/11, are at T−1: a "before-3" would be stale).
        assignments = session.exec(
            select(Assignment.id)
            .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
            .where(Requirement.code == "cdcs")
            .order_by(col(Assignment.id))
        ).all()
        rows = [_row(channel, assignments[i % len(assignments)] or 0, first + i) for i in range(n)]
        enqueue(session, rows, now=NOW)
        session.commit()
        ids = session.exec(select(Delivery.id).where(Delivery.channel == channel)).all()
    return sorted(i or 0 for i in ids)


def _row(channel: str, assignment: int, n: int) -> NewDelivery:
    email = channel == "email"
    return NewDelivery(
        campaign_id=1, assignment_id=assignment, step_key="before-3", deadline_version=0,
        kind="before", channel=channel, not_before=NOW,
        recipient=f"unit{n}@example.invalid" if email else f"0900 000 {100 + n}",
        subject="Nhắc nộp báo cáo" if email else None, body="Kính gửi …" if email else None,
        params={"template": "before"} if email else PARAMS,
    )  # fmt: skip


def dispatcher(zalo: ZaloSetup, *args: str) -> subprocess.Popen[str]:
    """A dispatcher process with this test's settings (database, SMTP) in its environment."""
    command = [sys.executable, "-m", "tests.support.dispatcher_process", *args,
               "--zalo", zalo.base, zalo.app_id, zalo.secret]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = process.communicate(timeout=60)
    assert process.returncode in (0, KILLED), err
    return process.returncode, out


@dataclass(frozen=True)
class World:
    engine: Engine
    inbox: Inbox
    fake: FakeZalo
    zalo: ZaloSetup

    def received(self, channel: str) -> Counter[str]:
        """What the SMTP server / the fake Zalo got, per outbox row (recipient, tracking id)."""
        if channel == "email":
            return Counter(rcpt for _, rcpts in self.inbox.envelopes for rcpt in rcpts)
        return Counter(str(m["tracking_id"]) for m in self.fake.messages)


@pytest.fixture
def world(
    engine: Engine, zalo: ZaloSetup, fake_zalo: tuple[FakeZalo, str], request: pytest.FixtureRequest
) -> World:
    inbox: Inbox = request.getfixturevalue("mail")  # the SMTP server, in DONDOC_SMTP_URL
    return World(engine, inbox, fake_zalo[0], zalo)


def once_each(channel: str, ids: list[int], engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        rows = session.exec(select(Delivery).where(col(Delivery.id).in_(ids))).all()
    return Counter(r.recipient if channel == "email" else f"dondoc{r.id}" for r in rows)


def states(engine: Engine) -> dict[int, str]:
    with Session(engine) as session:
        return {d.id or 0: d.state for d in session.exec(select(Delivery))}


def retry_the_flow(engine: Engine, zalo: ZaloSetup) -> Counter[str]:
    """Steps 1 and 3 of send-reminders: recover what the dead worker left, dispatch."""
    recover_stale.fn(LATER)
    found = channels(engine, zalo)
    return dispatch(engine, found, now=LATER, worker="retry", recheck=recheck_reminders)


def killed(world: World, die: str, at: int) -> None:
    """A dispatcher that dies at the `at`-th row (checked: it really died)."""
    args = ("--worker", "doomed", "--die", die, "--at", str(at))
    assert finished(dispatcher(world.zalo, *args))[0] == KILLED


def test_a_dispatcher_killed_after_its_claim_sends_nothing_and_the_retry_sends_once(
    world: World,
) -> None:
    # The kill point is before any channel code: one run covers both channels. It dies at the
    # first Zalo row, which waits for the emails before it to be back and recorded.
    emails, phones = queue(world.engine, "email", 3), queue(world.engine, "zalo", 3, first=3)
    killed(world, "after-claim", at=4)
    # The three emails went out and were recorded; the Zalo rows were claimed, not sent.
    assert (world.received("email").total(), world.received("zalo").total()) == (3, 0)
    assert Counter(states(world.engine).values()) == Counter({"sent": 3, "claimed": 3})
    assert retry_the_flow(world.engine, world.zalo) == Counter({"sent": 3})
    assert world.received("email") == once_each("email", emails, world.engine)
    assert world.received("zalo") == once_each("zalo", phones, world.engine)
    assert set(states(world.engine).values()) == {"sent"}


def test_a_dispatcher_killed_while_an_email_flies_leaves_only_that_email_in_doubt(
    world: World,
) -> None:
    # It dies re-checking the second email while the first is on the network (sender thread).
    emails = queue(world.engine, "email", 4)
    killed(world, "after-claim", at=2)
    assert Counter(states(world.engine).values()) == Counter({"sending": 1, "claimed": 3})
    assert states(world.engine)[emails[0]] == "sending"  # may have gone out: never resent
    assert retry_the_flow(world.engine, world.zalo) == Counter({"sent": 3})
    assert states(world.engine) == {i: "unknown" if i == emails[0] else "sent" for i in emails}
    expected = once_each("email", emails, world.engine)
    first = next(iter(once_each("email", emails[:1], world.engine)))
    # The first reached the server once or not at all (killed mid-send); the others once each.
    assert world.received("email") - Counter({first: 1}) == expected - Counter({first: 1})
    assert world.received("email")[first] <= 1


@pytest.mark.parametrize("channel", ["email", "zalo"])
def test_a_dispatcher_killed_after_the_send_is_flagged_unknown_and_never_resent(
    world: World, channel: str
) -> None:
    ids = queue(world.engine, channel, 5)
    killed(world, "after-send", at=3)
    # The provider has the third message; the outbox still says `sending`.
    assert (world.received(channel).total(), states(world.engine)[ids[2]]) == (3, "sending")
    # The retry sends the two rows claimed but never tried; a later tick sends nothing.
    assert [retry_the_flow(world.engine, world.zalo) for _ in range(2)] == [
        Counter({"sent": 2}), Counter()]  # fmt: skip
    assert world.received(channel) == once_each(channel, ids, world.engine)
    # An email's record runs while the next one flies: the second one's record may not have
    # committed when the process died, so it may be in doubt too, never resent.
    in_doubt = {ids[2], ids[1]} if channel == "email" else {ids[2]}
    assert {i: s for i, s in states(world.engine).items() if i not in in_doubt} == {
        i: "sent" for i in ids if i not in in_doubt}  # fmt: skip
    assert states(world.engine)[ids[2]] == "unknown"
    assert {states(world.engine)[i] for i in in_doubt} <= {"unknown", "sent"}
    with Session(world.engine) as session:
        flagged = session.exec(select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id == ids[2])).one()  # fmt: skip
    assert flagged.outcome == "unknown" and "check before resending" in (flagged.error or "")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_dispatcher_processes_on_postgresql_send_every_row_once(world: World) -> None:
    # 200 rows, mostly Zalo: each email costs Apprise ~40 ms of CPU (a new TLS context).
    emails = queue(world.engine, "email", 40)
    phones = queue(world.engine, "zalo", 160, first=40)
    workers = [dispatcher(world.zalo, "--worker", f"w{n}", "--batch", "5") for n in range(2)]
    summaries = [Counter(json.loads(finished(w)[1])) for w in workers]
    # Both took part (small batches, claimed in turn), and between them sent everything.
    assert all(s["sent"] > 0 for s in summaries), summaries
    assert sum(summaries, Counter()) == Counter({"sent": 200})
    assert world.received("email") == once_each("email", emails, world.engine)
    assert world.received("zalo") == once_each("zalo", phones, world.engine)
    assert set(states(world.engine).values()) == {"sent"}
