"""A value computed from a campaign's statuses, kept between requests for as long as it is
exactly what a fresh computation would give.

An entry is used only when, on this request,
- the database's change marker is the one it was built under. Every write that changes what
  the statuses and the unit table are made of (a submission, a review, an extension, an
  exemption, a plan or unit list loaded) adds an `AuditEvent` row in the same transaction
  (dondoc.intake, dondoc.office, dondoc.plans): a new write path must too. A submission is
  also a new row. The marker is,
  for both tables, the newest id and how many rows lie among the last WINDOW ids: PostgreSQL
  hands out ids before commit, so a transaction that commits after a later one lands below
  the newest id, and only the count sees it;
- `now` lies in the entry's window: between the two moments at which a status changes with
  time alone (dondoc.statusquery.status_window).

Both are read from the database on every request, so a change made by any process (another
web worker, the Prefect worker, the CLI) shows on the next page view."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, Select, func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from models import AuditEvent, Submission

# A row would go unseen only if its transaction stayed open while this many rows with later
# ids were committed to the same table (and to the audit log): far more than this
# application writes in the life of one transaction. Counting them is an index range scan.
WINDOW = 1_000
ENTRIES_KEPT = 8  # a snapshot of 10,000 rows takes a few MB

T = TypeVar("T")
Marker = tuple[int, ...]


@dataclass(frozen=True)
class Window:
    """Statuses are the same from `since` (None: always) up to, not including, `until`."""

    since: datetime | None
    until: datetime | None

    def holds(self, now: datetime) -> bool:
        started = self.since is None or self.since <= now
        return started and (self.until is None or now < self.until)


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    window: Window


Key = tuple[int, Marker]  # (campaign id, change marker)


@dataclass
class _Kept(Generic[T]):
    """One database's entries (the least recently used first out) and build locks."""

    entries: OrderedDict[tuple[Key, Window], T] = field(default_factory=OrderedDict)
    locks: dict[int, threading.Lock] = field(default_factory=dict)

    def find(self, key: Key, now: datetime) -> T | None:
        for (k, window), value in reversed(self.entries.items()):
            if k == key and window.holds(now):
                self.entries.move_to_end((k, window))
                return value
        return None

    def store(self, key: Key, entry: _Entry[T]) -> None:
        self.entries[key, entry.window] = entry.value
        while len(self.entries) > ENTRIES_KEPT:
            self.entries.popitem(last=False)


def change_marker(session: Session) -> Marker:
    """(newest id, rows among the last WINDOW ids) of the audit log and of the submissions."""
    return tuple(int(v) for v in session.execute(_marker_query()).one())


@cache  # built once: constructing it costs more than running it
def _marker_query() -> Select[Any]:
    parts = []
    for key in (col(AuditEvent.id), col(Submission.id)):
        top = select(func.coalesce(func.max(key), 0)).scalar_subquery()
        recent = select(func.count(key)).where(key > top - WINDOW).scalar_subquery()
        parts += [top, recent]
    return select_columns(*parts)


Build = Callable[[Session, int, datetime], tuple[T, Window]]


class CampaignCache(Generic[T]):
    """Values per database (engine), campaign, change marker and window of time; the last few
    used are kept.

    Several per campaign: on SQLite a request reads the database as it was when its
    transaction began, so requests that began before a write still ask for the value before
    it while newer ones ask for the value after; requests a moment apart can fall on either
    side of a deadline. Each finds its own."""

    def __init__(self, build: Build[T]) -> None:
        self._build = build
        self._kept: weakref.WeakKeyDictionary[Engine, _Kept[T]] = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()

    def get(self, session: Session, campaign_id: int, *, now: datetime) -> T:
        """The value as of `now` on the session's view of the database. One thread builds it
        while the others asking for the same campaign wait, then use it."""
        engine = session.get_bind().engine
        key = (campaign_id, change_marker(session))  # read before building: see the docstring
        found = self._find(engine, key, now)
        if found is not None:
            return found
        with self._lock(engine, campaign_id):
            found = self._find(engine, key, now)  # built meanwhile by another thread?
            if found is not None:
                return found
            entry = _Entry(*self._build(session, campaign_id, now))
            with self._guard:
                self._kept.setdefault(engine, _Kept()).store(key, entry)
            return entry.value

    def _find(self, engine: Engine, key: Key, now: datetime) -> T | None:
        with self._guard:
            kept = self._kept.get(engine)
            return kept.find(key, now) if kept else None

    def _lock(self, engine: Engine, campaign_id: int) -> threading.Lock:
        with self._guard:
            locks = self._kept.setdefault(engine, _Kept()).locks
            return locks.setdefault(campaign_id, threading.Lock())
