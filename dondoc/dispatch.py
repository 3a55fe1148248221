"""Dispatching the outbox: claim a batch, re-check each row, send it through its channel,
record the outcome. One call handles a batch, whatever its size (one Prefect task per batch)."""

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
) -> Counter[str]:
    """Send what is due; return how many rows ended in each state."""
    summary: Counter[str] = Counter()
    for delivery_id in claim(engine, now=now, worker=worker, limit=limit):
        summary[
            send_one(
                engine, delivery_id, channels, now=now, worker=worker, recheck=recheck, pacer=pacer
            )
        ] += 1
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
        result = Result(Outcome.NEEDS_PERSON, error=f"channel {row.channel} is not configured")
        return record(engine, delivery_id, result, now=now, from_state="claimed")
    if not mark_sending(engine, delivery_id, now=now, worker=worker):
        return "lost"  # recovered by another worker meanwhile; it is theirs now
    if pacer is not None:
        pacer.wait(row.channel)
    return record(engine, delivery_id, _attempt(channel, row, now), now=now)


def _attempt(channel: Channel, row: Delivery, now: datetime) -> Result:
    started = time.perf_counter()
    try:
        result = Result(Outcome.SENT, provider_id=channel.send(row, now=now))
    except ChannelError as exc:
        result = Result(exc.outcome, error_code=exc.code, error=str(exc), retry_at=exc.retry_at)
    except Exception as exc:  # a bug or an unexpected library error mid-send: outcome unknown
        log.exception("delivery %s: unexpected error while sending", row.id)
        result = Result(Outcome.UNKNOWN, error=f"{type(exc).__name__}: {exc}")
    if result.outcome is not Outcome.SENT:
        log.info("delivery %s via %s: %s", row.id, row.channel, result.outcome.value)
    elapsed = int((time.perf_counter() - started) * 1000)
    return replace(result, duration_ms=elapsed)
