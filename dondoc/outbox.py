"""The outbox's state machine: enqueue once, claim, mark sending, record.

Every transition is a conditional UPDATE in its own short transaction (claim, then act, then
record), so that:
- planning the same step twice inserts nothing (unique constraint, ON CONFLICT DO NOTHING);
- two dispatchers never take the same row (PostgreSQL: FOR UPDATE SKIP LOCKED; both: the
  UPDATE … WHERE state = 'pending' succeeds for one of them only);
- a crash after the claim but before the send leaves a `claimed` row that `recover` puts back
  to pending (nothing was sent: it will be, once);
- a crash after `sending` was committed leaves a `sending` row that `recover` turns into
  `unknown` for the office to check — the provider may have the message, so it is never sent
  again blindly."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Update, bindparam, func, insert, update
from sqlmodel import Session, col, select

from dondoc.db import insert_new, table
from models import Delivery, DeliveryAttempt

log = logging.getLogger(__name__)
# What record() returns when the row was no longer this worker's to change.
MOVED_ON = "moved on"

MAX_ATTEMPTS = 5
# Transient failures wait longer each time: 1, 5, 15, 60 minutes…
BACKOFF_MINUTES = (1, 5, 15, 60, 180)


class Outcome(StrEnum):
    SENT = "sent"
    TRANSIENT = "transient"
    DEFERRED = "deferred"
    PERMANENT = "permanent"
    NEEDS_PERSON = "needs_person"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class NewDelivery:
    campaign_id: int
    assignment_id: int | None
    step_key: str
    deadline_version: int
    kind: str
    channel: str
    recipient: str
    not_before: datetime
    contact_role: str | None = None
    subject: str | None = None
    body: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def enqueue(session: Session, items: Sequence[NewDelivery], *, now: datetime) -> int:
    """Insert the rows that do not exist yet (the unique constraint: one row per assignment,
    step, deadline version, channel and recipient); return how many were new."""
    if not items:
        return 0
    # vars(), not dataclasses.asdict: asdict deep-copies every params dict (1.6 s at 66,000).
    rows = [vars(item) | {"state": "pending", "attempts": 0, "created_at": now} for item in items]
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        return _copy_in(connection, rows)
    return insert_new(connection, Delivery, rows)


ENQUEUED = [f.name for f in fields(NewDelivery)] + ["state", "attempts", "created_at"]
# From this many rows, PostgreSQL gets them by COPY: a planning tick's tens of thousands.
COPY_FROM = 1000


def _copy_in(connection: Connection, rows: list[dict[str, Any]]) -> int:
    """PostgreSQL, many rows: COPY into a temporary table (columns only, no constraints), then
    one INSERT … SELECT that skips the rows that exist. 66,000 rows: 1.4 s, against 3.4 s as
    an executemany (the client adapting each row's parameters is most of it)."""
    names = ", ".join(ENQUEUED)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS delivery_in AS SELECT {names} FROM delivery "
            "WITH NO DATA"
        )
        with cursor.copy(f"COPY delivery_in ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(row[n]) if n == "params" else row[n] for n in ENQUEUED])
        cursor.execute(
            f"INSERT INTO delivery ({names}) SELECT {names} FROM delivery_in ON CONFLICT DO NOTHING"
        )
        added = int(cursor.rowcount)
        cursor.execute("TRUNCATE delivery_in")  # the table stays with the connection, empty
        return added


def claim(
    engine: Engine,
    *,
    now: datetime,
    worker: str,
    limit: int,
    channel: str | None = None,
    campaign_id: int | None = None,
) -> list[int]:
    """Take up to `limit` due rows for this worker (of one channel, of one campaign when
    given); return their ids (committed)."""
    with Session(engine) as session:
        query = (
            select(Delivery.id)
            .where(Delivery.state == "pending", col(Delivery.not_before) <= now)
            .order_by(col(Delivery.not_before), col(Delivery.id))
            .limit(limit)
        )
        if channel is not None:
            query = query.where(Delivery.channel == channel)
        if campaign_id is not None:
            query = query.where(Delivery.campaign_id == campaign_id)
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        candidates = [i for i in session.exec(query).all() if i is not None]
        if not candidates:
            return []
        # One statement for the batch; RETURNING says which rows this worker won (on SQLite,
        # another process may have claimed some between our SELECT and this UPDATE).
        won = set(
            session.connection().scalars(
                update(Delivery)
                .where(col(Delivery.id).in_(candidates), col(Delivery.state) == "pending")
                .values(state="claimed", claimed_at=now, claimed_by=worker)
                .returning(col(Delivery.id))
            )
        )
        session.commit()
        return [i for i in candidates if i in won]


def mark_sending(engine: Engine, delivery_id: int, *, now: datetime, worker: str) -> bool:
    """The last step before the network: committed, so that a crash after it is `unknown`."""
    with Session(engine) as session:
        started = start_sending(session, delivery_id, worker=worker)
        session.commit()
        return started


def start_sending(
    session: Session, delivery_id: int, *, worker: str, content: Mapping[str, Any] | None = None
) -> bool:
    """`claimed` → `sending` in the caller's transaction, with what is about to be sent (the
    text written at send time), if this worker still holds the claim."""
    # On the session's connection, not through the ORM: a plain statement (one per row sent),
    # and the caller's loaded row is left as it was: it applies what it sends itself.
    content = content or {}
    changed = session.connection().execute(
        _start_statement(tuple(content)), {"row_id": delivery_id, "worker": worker} | _new(content)
    )
    return changed.rowcount == 1


@cache
def _start_statement(columns: tuple[str, ...]) -> Update:
    # Built once per set of columns (an email's subject and body, a Zalo message's params):
    # building an UPDATE costs more than running it on SQLite.
    return (
        update(Delivery)
        .where(
            col(Delivery.id) == bindparam("row_id"),
            col(Delivery.state) == "claimed",
            col(Delivery.claimed_by) == bindparam("worker"),
        )
        .values(
            state="sending",
            attempts=Delivery.attempts + 1,
            **_set(columns),
        )
    )


# A cached UPDATE takes the new values as parameters: "new_<column>" (SQLAlchemy reserves the
# column's own name for the SET clause).
def _set(columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: bindparam(f"new_{name}") for name in columns}


def _new(values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"new_{name}": value for name, value in values.items()}


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    provider_id: str | None = None
    error_code: str | None = None
    error: str | None = None
    retry_at: datetime | None = None  # for DEFERRED (and optionally TRANSIENT)
    duration_ms: int | None = None
    # What the outcome asks of dondoc beyond this row (dondoc.followups): the step by email
    # instead, and which kind of alert the office needs ("zalo-quota"…), if any.
    fallback_to_email: bool = False
    alert: str | None = None
    detail: str | None = None  # the alert's detail on a success (the error's otherwise)


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


def _next_state(result: Result, attempts: int, now: datetime) -> dict[str, Any]:
    if result.outcome is Outcome.SENT:
        return {"state": "sent", "sent_at": now, "provider_id": result.provider_id}
    if result.outcome is Outcome.DEFERRED:
        return {"state": "pending", "not_before": result.retry_at or now + backoff(attempts)}
    if result.outcome is Outcome.TRANSIENT and attempts < MAX_ATTEMPTS:
        return {"state": "pending", "not_before": result.retry_at or now + backoff(attempts)}
    if result.outcome is Outcome.UNKNOWN:
        return {"state": "unknown"}
    if result.outcome is Outcome.SKIPPED:
        return {"state": "skipped"}
    return {"state": "failed"}  # permanent, needs a person, or out of attempts


def record(
    bind: Engine | Connection,
    delivery_id: int,
    result: Result,
    *,
    now: datetime,
    from_state: str = "sending",
    attempts: int | None = None,
    worker: str | None = None,
) -> str:
    """Record one attempt and move the row on, in one transaction; return the new state.
    `attempts` (the row's, this one included) saves reading the row when the caller has it.
    Plain statements, no ORM session: this runs once per message sent.

    With `worker` (the dispatcher that holds the claim), only a row this worker still holds is
    changed, and a row that recovery flagged `unknown` while this worker was still sending (a
    send slower than the lease, a clock skewed between hosts, a run at a logical time in the
    past) takes this worker's outcome: it is the truth. A row someone else has moved on since
    (the office's "send again", another worker's claim) is left alone and MOVED_ON returned;
    the attempt is kept if it reached the network (from `sending`), since the message went
    out, and dropped otherwise (nothing was sent)."""
    with _transaction(bind) as db:
        if attempts is None:
            attempts = db.scalar(select(Delivery.attempts).where(Delivery.id == delivery_id)) or 0
        values = _next_state(result, attempts, now) | {"last_error": result.error}
        changed = db.execute(
            _record_statement(
                tuple(values), held=worker is not None, flagged=from_state == "sending"
            ),
            {"row_id": delivery_id, "from_state": from_state, "worker": worker} | _new(values),
        )
        if changed.rowcount != 1:
            return _moved_on(db, delivery_id, result, now, from_state=from_state, worker=worker)
        _add_attempt(db, delivery_id, result, now)
        return str(values["state"])


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """One transaction, committed at the end: on a new checkout, or on a connection held."""
    if isinstance(bind, Connection):
        with bind.begin():
            yield bind
    else:
        with bind.begin() as db:
            yield db


def _moved_on(
    db: Connection, delivery_id: int, result: Result, now: datetime, *, from_state: str,
    worker: str | None,
) -> str:  # fmt: skip
    if worker is None:
        raise RuntimeError(f"delivery {delivery_id} is not {from_state}")
    log.warning("delivery %s moved on while %s held it (%s, from %s)",
                delivery_id, worker, result.outcome.value, from_state)  # fmt: skip
    if from_state == "sending":
        _add_attempt(db, delivery_id, result, now)
    return MOVED_ON


def _add_attempt(db: Connection, delivery_id: int, result: Result, now: datetime) -> None:
    db.execute(
        _attempt_statement(),
        {"delivery_id": delivery_id, "at": now, "outcome": result.outcome.value,
         "provider_id": result.provider_id, "error_code": result.error_code,
         "error": result.error, "duration_ms": result.duration_ms},
    )  # fmt: skip


@cache
def _attempt_statement() -> Insert:
    return insert(table(DeliveryAttempt))  # built once, as the UPDATEs below


@cache
def _record_statement(
    columns: tuple[str, ...], *, held: bool = False, flagged: bool = False
) -> Update:
    # One per outcome's set of columns, built once (see _start_statement).
    expected = col(Delivery.state) == bindparam("from_state")
    if held:  # still this worker's: its claim, or its send that recovery flagged meanwhile
        states = [bindparam("from_state"), "unknown"] if flagged else [bindparam("from_state")]
        expected = col(Delivery.state).in_(states) & (
            col(Delivery.claimed_by) == bindparam("worker")
        )
    return (
        update(Delivery)
        .where(col(Delivery.id) == bindparam("row_id"), expected)
        .values(**_set(columns))
    )


def recover(engine: Engine, *, now: datetime, stale_after: timedelta) -> tuple[int, int]:
    """After a crash: stale `claimed` rows go back to pending (nothing was sent); stale
    `sending` rows become `unknown` (something may have been). Returns (requeued, unknown)."""
    cutoff = now - stale_after
    with Session(engine) as session:
        requeued = session.execute(
            update(Delivery)
            .where(col(Delivery.state) == "claimed", col(Delivery.claimed_at) < cutoff)
            .values(state="pending", claimed_by=None)
        ).rowcount  # type: ignore[attr-defined]
        lost = session.exec(
            select(Delivery.id).where(
                Delivery.state == "sending", col(Delivery.claimed_at) < cutoff
            )
        ).all()
        for delivery_id in lost:
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery_id or 0,
                    at=now,
                    outcome=Outcome.UNKNOWN.value,
                    error="the dispatcher stopped while sending; check before resending",
                )
            )
        if lost:
            session.execute(
                update(Delivery)
                .where(col(Delivery.id).in_(lost), col(Delivery.state) == "sending")
                .values(state="unknown")
            )
        session.commit()
        return int(requeued or 0), len(lost)


def counts(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.exec(
        select(Delivery.state, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(col(Delivery.state))
    ).all()
    return dict(rows)
