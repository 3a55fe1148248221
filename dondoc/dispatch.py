"""Dispatching the outbox: claim a batch, re-check each row, send it through its channel,
record the outcome, then act on what the outcome asks for (a fallback, an alert: the
`follow_up` hook). One call handles up to `limit` rows, whatever the number of units (one
Prefect task per tick); rows a follow-up makes due at once go out in the same call."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from dondoc.outbox import Outcome, Result, claim, mark_sending, record
from models import Delivery
from notifications.base import Channel, ChannelError

log = logging.getLogger(__name__)
# Re-check at the moment of sending: a reason to skip the row now (submitted, exempted,
# extended…), or None to send it.
Recheck = Callable[[Session, Delivery, datetime], str | None]
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
    pacer: Pacer | None = None,
    follow_up: FollowUp | None = None,
    campaign_id: int | None = None,
) -> Counter[str]:
    """Send what is due (of one campaign when given), up to `limit` rows; return how many rows
    ended in each state.
    Claims again after each batch: what the batch's follow-ups made due goes out now. Nothing
    a batch records is due again at once (retries wait), so this ends."""
    summary: Counter[str] = Counter()
    while (left := limit - summary.total()) > 0:
        batch = claim(engine, now=now, worker=worker, limit=left, campaign_id=campaign_id)
        if not batch:
            break
        for delivery_id in batch:
            state = send_one(engine, delivery_id, channels, now=now, worker=worker,
                             recheck=recheck, pacer=pacer, follow_up=follow_up)  # fmt: skip
            summary[state] += 1
    return summary


def send_one(
    engine: Engine,
    delivery_id: int,
    channels: Mapping[str, Channel],
    *,
    now: datetime,
    worker: str,
    recheck: Recheck | None = None,
    pacer: Pacer | None = None,
    follow_up: FollowUp | None = None,
) -> str:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None  # we hold its claim
        reason = recheck(session, row, now) if recheck else None
    if reason:
        return record(
            engine,
            delivery_id,
            Result(Outcome.SKIPPED, error=reason),
            now=now,
            from_state="claimed",
        )
    channel = channels.get(row.channel)
    if channel is None:
        error = f"channel {row.channel} is not configured"
        result = Result(Outcome.NEEDS_PERSON, error=error, alert=f"{row.channel}-missing")
        state = record(engine, delivery_id, result, now=now, from_state="claimed")
    elif not mark_sending(engine, delivery_id, now=now, worker=worker):
        return "lost"  # recovered by another worker meanwhile; it is theirs now
    else:
        if pacer is not None:
            pacer.wait(row.channel)
        result = _attempt(channel, row, now)
        state = record(engine, delivery_id, result, now=now)
    if follow_up is not None:
        follow_up(row, result, now)  # after the record: a failing follow-up undoes nothing
    return state


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
