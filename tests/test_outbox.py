"""The outbox: once per step, exclusive claims, every outcome recorded, crashes recovered
without a duplicate and without a loss. Email goes through a real SMTP server on loopback."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.dispatch import CLAIM_BATCH, dispatch, send_one
from dondoc.links import current_token, ensure_links, resolve, token_for
from dondoc.outbox import (
    COPY_FROM,
    NewDelivery,
    Outcome,
    Result,
    claim,
    enqueue,
    mark_sending,
    recover,
)
from dondoc.plans.loader import load_plan
from dondoc.rules.deadlines import VN_TZ
from dondoc.settings import get_settings
from dondoc.settle import settle
from models import Assignment, Delivery, DeliveryAttempt, UploadLink
from notifications.base import ChannelError
from notifications.email import EmailChannel
from tests.support.files import CITY, SEED, copy_examples
from tests.support.smtp import smtp_server

NOW = datetime(2015, 11, 17, 1, 0, tzinfo=UTC)  # Tue 17/11/2015 08:00 local


@pytest.fixture
def seeded(engine: Engine, tmp_path: Path) -> tuple[int, list[int]]:
    with Session(engine) as session:
        load_plan(session, copy_examples(tmp_path) / SEED, now=NOW, actor="test", tz=VN_TZ)
        session.commit()
        ids = session.exec(select(Assignment.id).order_by(col(Assignment.id))).all()
    return 1, [i for i in ids if i is not None]


def item(campaign: int, assignment: int | None, n: int = 0, **kw: object) -> NewDelivery:
    base: dict[str, object] = {
        "campaign_id": campaign,
        "assignment_id": assignment,
        "step_key": "before-3",
        "deadline_version": 0,
        "kind": "before",
        "channel": "email",
        "recipient": f"unit{n}@example.invalid",
        "not_before": NOW,
        "subject": "Nhắc nộp báo cáo",
        "body": "Kính gửi …",
    }
    return NewDelivery(**(base | kw))  # type: ignore[arg-type]


def put(engine: Engine, *items: NewDelivery) -> int:
    with Session(engine) as session:
        n = enqueue(session, items, now=NOW)
        session.commit()
        return n


def states(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(session.exec(select(Delivery.state)).all())


class Recorder:
    """The network edge: what a channel was asked to send, with failures to inject."""

    name = "email"

    def __init__(self, fail_with: list[ChannelError] | None = None) -> None:
        self.sent: list[int] = []
        self.fail_with = fail_with or []

    def send(self, delivery: Delivery, *, now: datetime) -> str | None:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(delivery.id or 0)
        return f"msg-{delivery.id}"


def test_planning_the_same_step_twice_inserts_one_row(
    engine: Engine, seeded: tuple[int, list[int]]
) -> None:
    campaign, ids = seeded
    assert put(engine, item(campaign, ids[0]), item(campaign, ids[1], 1)) == 2
    assert put(engine, item(campaign, ids[0]), item(campaign, ids[1], 1)) == 0
    # A new deadline version is a new step; so is another channel.
    assert put(engine, item(campaign, ids[0], deadline_version=1)) == 1
    assert put(engine, item(campaign, ids[0], channel="zalo", recipient="84900000101")) == 1
    # Office messages (no assignment) are unique too, by their own index.
    digest = item(campaign, None, 9, step_key="digest-2015-11-17", kind="digest")
    assert (put(engine, digest), put(engine, digest)) == (1, 0)


def test_two_dispatchers_never_claim_the_same_row(
    engine: Engine, seeded: tuple[int, list[int]]
) -> None:
    campaign, ids = seeded
    put(engine, *[item(campaign, a, n) for n, a in enumerate(ids)])
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        start.wait()
        claimed[name] = claim(engine, now=NOW, worker=name, limit=len(ids))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(claimed["w0"]) & set(claimed["w1"])
    # On SQLite the writers queue, so one may take everything; the union is all rows either way.
    assert sorted(claimed["w0"] + claimed["w1"]) == sorted(d for d in range(1, len(ids) + 1))


def test_the_office_send_now_dispatches_only_its_own_campaign(
    engine: Engine, seeded: tuple[int, list[int]], tmp_path: Path
) -> None:
    campaign, ids = seeded
    with Session(engine) as session:
        load_plan(session, tmp_path / CITY, now=NOW, actor="test", tz=VN_TZ)
        session.commit()
    other = campaign + 1
    put(engine, item(campaign, ids[0]), item(other, None, 1, step_key="digest-2015-11-17"))
    recorder = Recorder()

    sent = dispatch(engine, {"email": recorder}, now=NOW, worker="office", campaign_id=campaign)

    assert sent == Counter({"sent": 1}) and len(recorder.sent) == 1
    assert states(engine) == Counter({"sent": 1, "pending": 1})
    assert dispatch(engine, {"email": recorder}, now=NOW, worker="flow") == Counter({"sent": 1})


def test_email_goes_through_smtp_one_message_per_recipient(
    engine: Engine, env: str, seeded: tuple[int, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign, ids = seeded
    put(
        engine,
        *[item(campaign, a, n, subject=f"Nhắc nộp báo cáo số {n}") for n, a in enumerate(ids[:3])],
    )
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("DONDOC_SMTP_URL", f"mailto://127.0.0.1:{port}")
        get_settings.cache_clear()
        summary = dispatch(engine, {"email": EmailChannel(get_settings())}, now=NOW, worker="w")
    assert summary == Counter({"sent": 3})
    assert [rcpts for _, rcpts in inbox.envelopes] == [
        [f"unit{n}@example.invalid"] for n in range(3)
    ]
    assert str(inbox.messages[0]["Subject"]) == "Nhắc nộp báo cáo số 0"
    assert states(engine) == Counter({"sent": 3})


def test_smtp_down_is_transient_and_retried_later(
    engine: Engine, env: str, seeded: tuple[int, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign, ids = seeded
    put(engine, item(campaign, ids[0]))
    with smtp_server() as (_, port):
        pass  # the port is free again: nothing listens there now
    monkeypatch.setenv("DONDOC_SMTP_URL", f"mailto://127.0.0.1:{port}")
    get_settings.cache_clear()
    summary = dispatch(engine, {"email": EmailChannel(get_settings())}, now=NOW, worker="w")
    assert summary == Counter({"pending": 1})
    with Session(engine) as session:
        row = session.exec(select(Delivery)).one()
        attempt = session.exec(select(DeliveryAttempt)).one()
    assert row.not_before > NOW and row.attempts == 1 and attempt.outcome == "transient"
    assert claim(engine, now=NOW, worker="w", limit=10) == []  # not before its backoff


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (ChannelError(Outcome.PERMANENT, "bad address", code="-108"), "failed"),
        (ChannelError(Outcome.NEEDS_PERSON, "OA suspended", code="-101"), "failed"),
        (ChannelError(Outcome.UNKNOWN, "read timeout"), "unknown"),
        (ChannelError(Outcome.DEFERRED, "night ban", retry_at=NOW + timedelta(hours=9)), "pending"),
    ],
)
def test_each_outcome_moves_the_row_and_is_recorded(
    engine: Engine, seeded: tuple[int, list[int]], error: ChannelError, state: str
) -> None:
    campaign, ids = seeded
    put(engine, item(campaign, ids[0]))
    summary = dispatch(engine, {"email": Recorder([error])}, now=NOW, worker="w")
    assert summary == Counter({state: 1})
    with Session(engine) as session:
        row = session.exec(select(Delivery)).one()
        attempt = session.exec(select(DeliveryAttempt)).one()
    assert (attempt.outcome, attempt.error_code) == (error.outcome.value, error.code)
    if error.retry_at:
        assert row.not_before == error.retry_at


def test_transient_failures_stop_after_the_last_attempt(
    engine: Engine, seeded: tuple[int, list[int]]
) -> None:
    campaign, ids = seeded
    put(engine, item(campaign, ids[0]))
    channel = Recorder([ChannelError(Outcome.TRANSIENT, "timeout") for _ in range(9)])
    moment = NOW
    for _ in range(5):
        dispatch(engine, {"email": channel}, now=moment, worker="w")
        moment += timedelta(days=1)
    assert states(engine) == Counter({"failed": 1})
    assert channel.sent == []


def test_a_row_that_no_longer_applies_is_skipped_at_send_time(
    engine: Engine, seeded: tuple[int, list[int]]
) -> None:
    campaign, ids = seeded
    put(engine, item(campaign, ids[0]), item(campaign, ids[1], 1))
    channel = Recorder()
    summary = dispatch(
        engine,
        {"email": channel},
        now=NOW,
        worker="w",
        recheck=lambda _s, d, _n: "submitted" if d.assignment_id == ids[0] else None,
    )
    assert summary == Counter({"skipped": 1, "sent": 1})
    assert len(channel.sent) == 1


def test_a_crash_after_the_claim_is_sent_once_after_recovery(
    engine: Engine, seeded: tuple[int, list[int]]
) -> None:
    campaign, ids = seeded
    put(engine, item(campaign, ids[0]))
    assert claim(engine, now=NOW, worker="dead", limit=10) == [1]  # …and the worker dies
    channel = Recorder()
    assert dispatch(engine, {"email": channel}, now=NOW, worker="w") == Counter()
    assert recover(engine, now=NOW + timedelta(minutes=30), stale_after=timedelta(minutes=15)) == (
        1,
        0,
    )
    dispatch(engine, {"email": channel}, now=NOW + timedelta(minutes=30), worker="w")
    assert channel.sent == [1]
    assert states(engine) == Counter({"sent": 1})


def test_a_crash_while_sending_is_flagged_never_resent(
    engine: Engine, seeded: tuple[int, list[int]]
) -> None:
    campaign, ids = seeded
    put(engine, item(campaign, ids[0]))
    claim(engine, now=NOW, worker="dead", limit=10)
    assert mark_sending(engine, 1, now=NOW, worker="dead")  # …sends, and dies before recording
    later = NOW + timedelta(minutes=30)
    assert recover(engine, now=later, stale_after=timedelta(minutes=15)) == (0, 1)
    channel = Recorder()
    dispatch(engine, {"email": channel}, now=later, worker="w")
    assert channel.sent == []
    assert states(engine) == Counter({"unknown": 1})
    with Session(engine) as session:
        assert session.exec(select(DeliveryAttempt.outcome)).all() == ["unknown"]


class Stalled(Recorder):
    """Sends, but takes so long that a recovery runs meanwhile (a slow SMTP server, a clock
    skewed between hosts, a `send-now --at` in the past); the office may act on it too."""

    def __init__(self, engine: Engine, office_resends: bool = False) -> None:
        super().__init__()
        self.engine, self.office_resends = engine, office_resends

    def send(self, delivery: Delivery, *, now: datetime) -> str | None:
        assert recover(self.engine, now=now + timedelta(hours=1),
                       stale_after=timedelta(minutes=15)) == (0, 1)  # fmt: skip
        if self.office_resends:  # "send again" on the flagged row; another worker takes it
            with Session(self.engine) as session:
                settle(session, delivery.id or 0, sent=False, by="vanphong", now=now)
                session.commit()
            assert claim(self.engine, now=now, worker="other", limit=10) == [delivery.id]
            assert mark_sending(self.engine, delivery.id or 0, now=now, worker="other")
        return super().send(delivery, now=now)


def test_a_send_flagged_unknown_by_recovery_while_under_way_takes_its_real_outcome(
    engine: Engine, seeded: tuple[int, list[int]]
) -> None:
    campaign, ids = seeded
    put(engine, item(campaign, ids[0]))
    slow = Stalled(engine)
    assert dispatch(engine, {"email": slow}, now=NOW, worker="slow") == Counter({"sent": 1})
    assert slow.sent == [1] and states(engine) == Counter({"sent": 1})
    with Session(engine) as session:
        history = session.exec(select(DeliveryAttempt.outcome).order_by(col(DeliveryAttempt.id)))
        assert history.all() == ["unknown", "sent"]  # what each saw, in order


@pytest.mark.parametrize("outcome", [Outcome.SENT, Outcome.TRANSIENT])
def test_a_late_outcome_never_overwrites_the_row_another_worker_now_holds(
    engine: Engine, seeded: tuple[int, list[int]], outcome: Outcome
) -> None:
    campaign, ids = seeded
    put(engine, item(campaign, ids[0]))
    fails = [ChannelError(outcome, "timeout")] if outcome is not Outcome.SENT else []
    slow = Stalled(engine, office_resends=True)
    slow.fail_with = fails
    assert dispatch(engine, {"email": slow}, now=NOW, worker="slow") == Counter({"moved on": 1})
    with Session(engine) as session:  # still the other worker's send: not put back to pending
        row = session.get_one(Delivery, 1)
        assert (row.state, row.claimed_by) == ("sending", "other")
        history = session.exec(select(DeliveryAttempt.outcome).order_by(col(DeliveryAttempt.id)))
        assert history.all() == ["unknown", "transient", outcome.value]  # the late one on record


def test_a_stolen_claim_is_not_sent_twice(engine: Engine, seeded: tuple[int, list[int]]) -> None:
    campaign, ids = seeded
    put(engine, item(campaign, ids[0]))
    claim(engine, now=NOW, worker="slow", limit=10)
    recover(engine, now=NOW + timedelta(hours=1), stale_after=timedelta(minutes=15))
    fast = Recorder()
    dispatch(engine, {"email": fast}, now=NOW + timedelta(hours=1), worker="fast")
    slow = Recorder()
    assert send_one(engine, 1, {"email": slow}, now=NOW, worker="slow") == "lost"
    assert (fast.sent, slow.sent) == ([1], [])


def test_a_bulk_enqueue_counts_exactly_the_rows_it_adds(
    engine: Engine, seeded: tuple[int, list[int]]
) -> None:
    # Past COPY_FROM rows, PostgreSQL takes another path (COPY, then INSERT … SELECT).
    campaign, _ = seeded
    many = [item(campaign, None, n, step_key="digest-2015-11-17") for n in range(COPY_FROM + 500)]
    assert put(engine, *many[:700]) == 700
    assert put(engine, *many, *many[:10]) == COPY_FROM + 500 - 700  # duplicates within a batch too
    assert put(engine, *many) == 0
    with Session(engine) as session:
        rows = session.exec(
            select(Delivery).where(Delivery.recipient == "unit1499@example.invalid")
        )
        [row] = rows.all()
    assert (row.subject, row.state, row.params, row.not_before) == ("Nhắc nộp báo cáo", "pending",
                                                                    {}, NOW)  # fmt: skip


class Watcher(Recorder):
    """Records, at each send, how many rows were held (claimed or sending) at that moment."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.held: list[int] = []

    def send(self, delivery: Delivery, *, now: datetime) -> str | None:
        with Session(self.engine) as session:
            held = select(Delivery.id).where(col(Delivery.state).in_(("claimed", "sending")))
            self.held.append(len(session.exec(held).all()))
        return super().send(delivery, now=now)


def test_a_dispatcher_holds_one_batch_at_a_time(
    engine: Engine, seeded: tuple[int, list[int]]
) -> None:
    # Several dispatchers share the work: one claims CLAIM_BATCH rows, sends them, then claims
    # again, instead of holding everything it was asked to send while it works through it.
    campaign, ids = seeded
    total = CLAIM_BATCH + 12
    put(engine, *[item(campaign, ids[0], n) for n in range(total)])
    watcher = Watcher(engine)

    assert dispatch(engine, {"email": watcher}, now=NOW, worker="w", limit=500) == Counter(
        {"sent": total}
    )
    assert len(watcher.sent) == total and max(watcher.held) == CLAIM_BATCH
    assert watcher.held[CLAIM_BATCH] == 12  # the second batch: what was left


def test_first_links_are_issued_once_per_unit_in_bulk(
    engine: Engine, seeded: tuple[int, list[int]]
) -> None:
    campaign, _ = seeded
    with Session(engine) as session:
        units = session.exec(select(Assignment.unit_id).order_by(col(Assignment.id))).all()
        old = token_for(session, campaign_id=campaign, unit_id=units[0], secret=b"s", by="t",
                        now=NOW)  # fmt: skip
        issued = ensure_links(session, campaign, units, secret=b"s", by="t", now=NOW)
        again = ensure_links(session, campaign, units, secret=b"s", by="t", now=NOW)
        session.commit()
        tokens = [current_token(session, campaign_id=campaign, unit_id=u, secret=b"s")
                  for u in units]  # fmt: skip
        active = session.exec(select(UploadLink).where(col(UploadLink.revoked_at).is_(None)))
        per_unit = Counter(link.unit_id for link in active)
    assert (issued, again) == (len(set(units)) - 1, 0)
    assert tokens[0] == old  # a unit's existing link is kept
    assert set(per_unit.values()) == {1} and per_unit.keys() == set(units)
    with Session(engine) as session:  # each token opens its own unit's link, and no other
        opened = [resolve(session, token or "") for token in tokens]
    assert [link.unit_id if link else None for link in opened] == units


class Overlapping(Recorder):
    """A channel the dispatcher sends through from its sender thread (`overlaps`, as email),
    watching the order of the work around each send."""

    overlaps = True

    def __init__(self, engine: Engine, ids: list[int]) -> None:
        super().__init__()
        self.engine, self.ids = engine, ids
        self.began = {i: threading.Event() for i in ids}
        self.next_state: dict[int, str] = {}  # the next row's state while this one is sent
        self.in_flight_at_record: dict[int, bool] = {}

    def send(self, delivery: Delivery, *, now: datetime) -> str | None:
        row = delivery.id or 0
        self.began[row].set()
        time.sleep(0.05)  # the dispatcher's turn: it re-checks the next row meanwhile
        if row + 1 in self.began:
            with Session(self.engine) as session:
                self.next_state[row] = session.exec(
                    select(Delivery.state).where(Delivery.id == row + 1)).one()  # fmt: skip
        return super().send(delivery, now=now)

    def follow_up(self, row: Delivery, result: Result, now: datetime) -> None:
        """Runs once the row's outcome is recorded: is the next row on the network by then?"""
        following = (row.id or 0) + 1
        if following in self.began:  # sequential sending would wait here in vain
            self.in_flight_at_record[row.id or 0] = self.began[following].wait(timeout=5)


@pytest.fixture
def five(engine: Engine, seeded: tuple[int, list[int]]) -> tuple[Overlapping, list[int]]:
    """Five emails due, and a channel sent through from the sender thread; the rows' ids."""
    campaign, ids = seeded
    put(engine, *[item(campaign, ids[0], n) for n in range(5)])
    with Session(engine) as session:
        rows = [r or 0 for r in session.exec(select(Delivery.id).order_by(col(Delivery.id)))]
    return Overlapping(engine, rows), rows


def test_an_email_is_recorded_while_the_next_flies_which_is_marked_only_after_it(
    engine: Engine, five: tuple[Overlapping, list[int]]
) -> None:
    channel, rows = five
    summary = dispatch(engine, {"email": channel}, now=NOW, worker="w", follow_up=channel.follow_up)
    assert summary == Counter({"sent": 5}) and channel.sent == rows  # in order, each once
    # Row N-1's record overlapped row N's send; row N+1 stayed `claimed` until row N was back,
    # so a crash leaves in doubt only rows that may have gone out.
    assert channel.in_flight_at_record == dict.fromkeys(rows[:-1], True)
    assert channel.next_state == dict.fromkeys(rows[:-1], "claimed")


def test_a_row_skipped_while_an_email_flies_lets_that_email_land_and_be_recorded(
    engine: Engine, five: tuple[Overlapping, list[int]]
) -> None:
    channel, rows = five

    def submitted_meanwhile(session: Session, row: Delivery, now: datetime) -> str | None:
        return "submitted" if row.id == rows[2] else None

    summary = dispatch(engine, {"email": channel}, now=NOW, worker="w",
                       recheck=submitted_meanwhile)  # fmt: skip
    assert channel.sent == rows[:2] + rows[3:]
    assert summary == Counter({"sent": 4, "skipped": 1}) == states(engine)
