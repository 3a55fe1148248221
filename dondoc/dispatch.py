"""Dispatching the outbox: claim a batch, re-check each row, send it through its channel,
record the outcome, then act on what the outcome asks for (a fallback, an alert: the
`follow_up` hook). One call handles up to `limit` rows, whatever the number of units (one
Prefect task per tick); rows a follow-up makes due at once go out in the same call."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.compose import StaleStepError
from dondoc.outbox import Outcome, Result, claim, record, start_sending
from models import Delivery
from notifications.base import Channel, ChannelError
from notifications.messages import MessageError

log = logging.getLogger(__name__)
CLAIM_BATCH: Final = 50  # rows claimed at once (each is sent before the next claim)
# Re-check at the moment of sending: a reason to skip the row now (submitted, exempted,
# extended…), or None to send it.
Recheck = Callable[[Session, Delivery, datetime], str | None]


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
    run = _Run(engine, channels, now, worker, recheck, compose, pacer, follow_up)
    summary: Counter[str] = Counter()
    while (left := limit - summary.total()) > 0:
        # A bounded batch: several dispatchers share the work, and rows this one holds wait
        # seconds, not the whole call, for their turn.
        batch = claim(engine, now=now, worker=worker, limit=min(left, CLAIM_BATCH),
                      campaign_id=campaign_id)  # fmt: skip
        if not batch:
            break
        for row in run.load(batch):
            summary[run.send(row)] += 1
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
    run = _Run(engine, channels, now, worker, recheck, compose, pacer, follow_up)
    (row,) = run.load([delivery_id])
    return run.send(row)


@dataclass(frozen=True)
class _Run:
    """One dispatch call's fixed arguments, with its steps."""

    engine: Engine
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
        delivery_id, now = row.id or 0, self.now
        through = self.prepare(row)
        if through is None:
            return "lost"  # recovered by another worker meanwhile; it is theirs now
        if isinstance(through, Result):  # recorded without sending
            result = through
            state = record(self.engine, delivery_id, result, now=now, from_state="claimed",
                           attempts=row.attempts)  # fmt: skip
            if result.outcome is Outcome.SKIPPED:
                return state
        else:
            if self.pacer is not None and not _held(through, row, now):
                self.pacer.wait(row.channel)  # a row the channel holds back costs no request
            result = _attempt(through, row, now)
            state = record(self.engine, delivery_id, result, now=now, attempts=row.attempts)
        if self.follow_up is not None:
            self.follow_up(row, result, now)  # after the record: a failing one undoes nothing
        return state

    def prepare(self, row: Delivery) -> Channel | Result | None:
        """One transaction from the claim to the network: re-check the row, write its text,
        mark it `sending` (with that text, also applied to `row`). Returns the channel to send
        it through or the result to record instead (skipped, channel missing), or None if the
        claim was lost."""
        with Session(self.engine) as session:
            reason = self.recheck(session, row, self.now) if self.recheck else None
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
            if not start_sending(session, row.id or 0, worker=self.worker, content=content):
                return None
            session.commit()  # with the link the text may have issued
        for name, value in content.items():
            setattr(row, name, value)  # detached: what the channel sends, as stored
        row.attempts += 1  # as start_sending counted it
        return channel


def _held(channel: Channel, row: Delivery, now: datetime) -> bool:
    """Whether the channel will defer the row without a request (Zalo after a quota error)."""
    deferral = getattr(channel, "deferral", None)
    return deferral is not None and deferral(row, now=now) is not None


def _attempt(channel: Channel, row: Delivery, now: datetime) -> Result:
    started = time.perf_counter()
    try:
        result = Result(Outcome.SENT, provider_id=channel.send(row, now=now))
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
