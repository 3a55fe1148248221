"""Dispatching the outbox: claim a batch, re-check each row, send it through its channel,
record the outcome, then act on what the outcome asks for (a fallback, an alert: the
`follow_up` hook). One call handles up to `limit` rows, whatever the number of units (one
Prefect task per tick); rows a follow-up makes due at once go out in the same call."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Protocol
from uuid import uuid4

from sqlalchemy import Connection, Engine
from sqlmodel import Session, col, select

from dondoc.compose import StaleStepError
from dondoc.outbox import MOVED_ON, Outcome, Result, claim, record, start_sending
from models import Delivery
from notifications.base import Channel, ChannelError, Sent
from notifications.messages import MessageError

log = logging.getLogger(__name__)
CLAIM_BATCH: Final = 50  # rows claimed at once (each is sent before the next claim)
# Re-check at the moment of sending: a reason to skip the row now (submitted, exempted,
# extended…), a moment to defer it to (quiet hours), or None to send it.
Recheck = Callable[[Session, Delivery, datetime], str | datetime | None]


class Compose(Protocol):
    """Then the columns to write as a row goes out (its text, written at send time:
    dondoc.compose.Composer); raises StaleStepError when the message would now be false."""

    def prefetch(self, session: Session, rows: Sequence[Delivery], now: datetime) -> None:
        """Read at once what a claimed batch's rows will need."""

    def __call__(self, session: Session, row: Delivery, now: datetime) -> dict[str, Any]: ...


# After an outcome is recorded: enqueue what it calls for (an email fallback, an office alert).
FollowUp = Callable[[Delivery, Result, datetime], None]


class Pacer:
    """At most one send per `interval` seconds per channel (one process)."""

    def __init__(self, per_second: Mapping[str, float]) -> None:
        self.interval = {name: 1.0 / rate for name, rate in per_second.items() if rate > 0}
        self.last: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        interval = self.interval.get(channel)
        if interval is None:
            return
        pause = self.last.get(channel, 0.0) + interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self.last[channel] = time.monotonic()


def run_worker(who: str) -> str:
    """A claim owner unique to this run: two "send now" clicks by one person, or two CLI
    runs, must not be able to record over each other's rows."""
    return f"{who[:40]}:{os.getpid()}:{uuid4().hex[:8]}"


def dispatch(
    engine: Engine,
    channels: Mapping[str, Channel],
    *,
    now: datetime,
    worker: str,
    limit: int = 200,
    recheck: Recheck | None = None,
    compose: Compose | None = None,
    pacer: Pacer | None = None,
    follow_up: FollowUp | None = None,
    campaign_id: int | None = None,
) -> Counter[str]:
    """Send what is due (of one campaign when given), up to `limit` rows; return how many rows
    ended in each state.
    Claims again after each batch: what the batch's follow-ups made due goes out now. Nothing
    a batch records is due again at once (retries wait), so this ends."""
    run = _Run(engine, engine, channels, now, worker, recheck, compose, pacer, follow_up)
    summary: Counter[str] = Counter()
    try:
        while (left := limit - summary.total()) > 0:
            # A bounded batch: several dispatchers share the work, and rows this one holds
            # wait seconds, not the whole call, for their turn.
            batch = claim(engine, now=now, worker=worker, limit=min(left, CLAIM_BATCH),
                          campaign_id=campaign_id)  # fmt: skip
            if not batch:
                break
            rows = run.load(batch)
            # One connection for the batch's rows: a checkout per statement group would ping
            # the server each time (pool_pre_ping), a round trip per step on PostgreSQL.
            with engine.connect() as held:
                summary.update(replace(run, bind=held).overlapped(rows))
    finally:
        _release(channels)
    return summary


def send_one(
    engine: Engine,
    delivery_id: int,
    channels: Mapping[str, Channel],
    *,
    now: datetime,
    worker: str,
    recheck: Recheck | None = None,
    compose: Compose | None = None,
    pacer: Pacer | None = None,
    follow_up: FollowUp | None = None,
) -> str:
    """One claimed row, on its own (the dispatcher sends a claimed batch row by row)."""
    run = _Run(engine, engine, channels, now, worker, recheck, compose, pacer, follow_up)
    (row,) = run.load([delivery_id])
    return run.send(row)


@dataclass(frozen=True)
class _Run:
    """One dispatch call's fixed arguments, with its steps."""

    engine: Engine
    bind: Engine | Connection  # for the rows' own steps: re-check, mark, record
    channels: Mapping[str, Channel]
    now: datetime
    worker: str
    recheck: Recheck | None
    compose: Compose | None
    pacer: Pacer | None
    follow_up: FollowUp | None

    def load(self, ids: list[int]) -> list[Delivery]:
        """The claimed rows (in claim order) and what composing them needs, in one
        transaction: the prefetch may issue first upload links."""
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(Delivery).where(col(Delivery.id).in_(ids))
            found = {r.id: r for r in session.exec(query)}
            rows = [found[i] for i in ids if i in found]
            if self.compose is not None:
                self.compose.prefetch(session, rows, self.now)
            session.commit()
        return rows

    def send(self, row: Delivery) -> str:
        """One row from its claim to its recorded outcome."""
        through = self.settle(row, self.prepare(row))
        return through if isinstance(through, str) else self.finish(row, self.go(through, row))

    def overlapped(self, rows: Sequence[Delivery]) -> Iterator[str]:
        """The rows in order, each row's send overlapping database work: while a sender thread
        waits on the network for row N, this thread records row N-1 and re-checks and writes
        row N+1. Row N+1 is marked `sending` only once row N is back, so a crash leaves in
        doubt only rows that may have gone out (N, and N-1 if its record had not committed).
        Channels that use the database themselves (Zalo's token refresh) go one by one."""
        with ThreadPoolExecutor(1, thread_name_prefix="dondoc-send") as pool:
            sender = _Sender(pool, self.go)
            for row in rows:
                if _overlaps(self.channels.get(row.channel)):
                    yield from self.alongside(row, sender)
                else:
                    if landed := sender.land():
                        yield self.finish(*landed)
                    yield self.send(row)
            if landed := sender.land():
                yield self.finish(*landed)

    def alongside(self, row: Delivery, sender: _Sender) -> Iterator[str]:
        """Row N+1 checked while row N flies; once N is back, N+1 marked and launched, then
        N recorded while N+1 flies."""
        landed, through = None, None
        with Session(self.bind) as session:
            checked = self.check(session, row)
            if isinstance(checked, tuple):
                landed = sender.land()
                through = self.mark(session, row, *checked)
        if not isinstance(checked, tuple):
            yield self.unsent(row, checked)  # skipped or failed: row N flies on
            return
        if through is None:
            yield "lost"
        else:
            sender.launch(through, row)
        if landed:
            yield self.finish(*landed)

    def settle(self, row: Delivery, through: Channel | Result | None) -> Channel | str:
        """What prepare() gave: the channel to send through, or the state the row ended in."""
        if through is None:
            return "lost"  # recovered by another worker meanwhile; it is theirs now
        return self.unsent(row, through) if isinstance(through, Result) else through

    def unsent(self, row: Delivery, result: Result) -> str:
        """Record a result reached without sending (skipped, failed before the network)."""
        state = record(self.bind, row.id or 0, result, now=self.now, from_state="claimed",
                       attempts=row.attempts, worker=self.worker)  # fmt: skip
        if result.outcome is not Outcome.SKIPPED and state != MOVED_ON:
            self.follow(row, result)
        return state

    def go(self, channel: Channel, row: Delivery) -> Result:
        if self.pacer is not None and not _held(channel, row, self.now):
            self.pacer.wait(row.channel)  # a row the channel holds back costs no request
        return _attempt(channel, row, self.now)

    def finish(self, row: Delivery, result: Result) -> str:
        state = record(self.bind, row.id or 0, result, now=self.now, attempts=row.attempts,
                       worker=self.worker)  # fmt: skip
        # A row the office took over meanwhile ("send again"): no email fallback on top of it.
        self.follow(row, replace(result, fallback_to_email=False) if state == MOVED_ON else result)
        return state

    def follow(self, row: Delivery, result: Result) -> None:
        if self.follow_up is not None:
            self.follow_up(row, result, self.now)  # after the record: a failing one undoes nothing

    def prepare(self, row: Delivery) -> Channel | Result | None:
        """One transaction from the claim to the network: check() then mark(). Returns the
        channel to send through, the result to record instead, or None if the claim was lost."""
        with Session(self.bind) as session:
            checked = self.check(session, row)
            return self.mark(session, row, *checked) if isinstance(checked, tuple) else checked

    def check(self, session: Session, row: Delivery) -> tuple[Channel, dict[str, Any]] | Result:
        """Re-check the row and write its text: the channel and the columns to send, or the
        result to record without sending (skipped, channel missing, no message possible)."""
        reason = self.recheck(session, row, self.now) if self.recheck else None
        if isinstance(reason, datetime):  # nothing sent: the attempt count stays as it is
            return Result(Outcome.DEFERRED, retry_at=reason, error="outside the send window")
        if reason:
            return Result(Outcome.SKIPPED, error=reason)
        channel = self.channels.get(row.channel)
        if channel is None:
            error = f"channel {row.channel} is not configured"
            return Result(Outcome.NEEDS_PERSON, error=error, alert=f"{row.channel}-missing")
        try:
            content = self.compose(session, row, self.now) if self.compose else {}
        except StaleStepError as exc:
            return Result(Outcome.SKIPPED, error=str(exc))
        except MessageError as exc:  # the data cannot make this message: a person must look
            return Result(Outcome.PERMANENT, error=f"the message cannot be written: {exc}")
        return channel, content

    def mark(
        self, session: Session, row: Delivery, channel: Channel, content: dict[str, Any]
    ) -> Channel | None:
        """Mark the row `sending` with its text and commit (the text may have issued a link);
        the text also applied to `row`. None if this worker lost the claim."""
        if not start_sending(session, row.id or 0, worker=self.worker, content=content):
            return None
        session.commit()
        for name, value in content.items():
            setattr(row, name, value)  # detached: what the channel sends, as stored
        row.attempts += 1  # as start_sending counted it
        return channel


class _Sender:
    """One row at a time on the network, in the sender thread."""

    def __init__(self, pool: ThreadPoolExecutor, go: Callable[[Channel, Delivery], Result]) -> None:
        self.pool, self.go = pool, go
        self.flight: tuple[Delivery, Future[Result]] | None = None

    def launch(self, channel: Channel, row: Delivery) -> None:
        self.flight = row, self.pool.submit(self.go, channel, row)

    def land(self) -> tuple[Delivery, Result] | None:
        """The row in flight and its result, once back (None if none flies)."""
        flight, self.flight = self.flight, None
        return None if flight is None else (flight[0], flight[1].result())


def _release(channels: Mapping[str, Channel]) -> None:
    """The run is over: channels let go of what they keep between messages (SMTP connections)."""
    for channel in channels.values():
        release = getattr(channel, "release", None)
        if release is not None:
            release()


def _overlaps(channel: Channel | None) -> bool:
    """Whether the channel may send in the sender thread: it uses no database connection of
    its own (SQLite would make it wait on this thread's writes)."""
    return bool(getattr(channel, "overlaps", False))


def _held(channel: Channel, row: Delivery, now: datetime) -> bool:
    """Whether the channel will defer the row without a request (Zalo after a quota error)."""
    deferral = getattr(channel, "deferral", None)
    return deferral is not None and deferral(row, now=now) is not None


def _sent(answer: str | Sent | None) -> Result:
    if isinstance(answer, Sent):
        return Result(Outcome.SENT, provider_id=answer.provider_id, alert=answer.alert,
                      detail=answer.detail)  # fmt: skip
    return Result(Outcome.SENT, provider_id=answer)


def _attempt(channel: Channel, row: Delivery, now: datetime) -> Result:
    started = time.perf_counter()
    try:
        result = _sent(channel.send(row, now=now))
    except ChannelError as exc:
        result = Result(exc.outcome, error_code=exc.code, error=str(exc), retry_at=exc.retry_at,
                        fallback_to_email=exc.fallback_to_email, alert=exc.alert)  # fmt: skip
    except Exception as exc:  # a bug or an unexpected library error mid-send: outcome unknown
        log.exception("delivery %s: unexpected error while sending", row.id)
        result = Result(Outcome.UNKNOWN, error=f"{type(exc).__name__}: {exc}")
    if result.outcome is not Outcome.SENT:
        log.info("delivery %s via %s: %s", row.id, row.channel, result.outcome.value)
    elapsed = int((time.perf_counter() - started) * 1000)
    return replace(result, duration_ms=elapsed)
