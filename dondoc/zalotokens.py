"""The Zalo token pair in the database (`ZaloToken`), refreshed by one worker at a time.

Zalo's refresh token is single-use, so a refresh takes a lock first (PostgreSQL: the row, with
SELECT … FOR UPDATE; SQLite: the database's write lock, with BEGIN IMMEDIATE), reads the row
again (another worker may have refreshed while this one waited: its pair is returned and Zalo is
not called), and commits the new pair before returning it — the old refresh token is dead from
the moment Zalo answers. On SQLite the write lock is held during the HTTP call: at most the
client's timeout, about once a day."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, update
from sqlmodel import Session, col, select

from models import ZaloToken
from notifications.zalo import Clock, TokenPair, ZaloError, utc_now

log = logging.getLogger(__name__)


class DatabaseTokenStore:
    """A `TokenStore` over the `ZaloToken` row of one app; safe across threads and processes."""

    def __init__(self, engine: Engine, app_id: str, *, clock: Clock = utc_now) -> None:
        self.engine, self.app_id, self.clock = engine, app_id, clock

    def current(self) -> TokenPair:
        with self.engine.connect() as conn:
            return self._pair(conn.execute(self._row()).one_or_none())

    def refresh(self, stale: TokenPair, do_refresh: Callable[[str], TokenPair]) -> TokenPair:
        with self._locked() as conn:
            stored = self._pair(conn.execute(self._row().with_for_update()).one_or_none())
            if stored.version != stale.version:
                return stored  # another worker refreshed while we waited for the lock
            try:
                fresh = replace(do_refresh(stored.refresh_token), version=stored.version + 1)
            except ZaloError as exc:
                if exc.kind == "needs_person":
                    self._write(conn, needs_reauthorisation=True)
                raise
            self._write(
                conn,
                access_token=fresh.access_token,
                refresh_token=fresh.refresh_token,
                expires_at=fresh.expires_at,
                version=fresh.version,
            )
            log.info("Zalo token pair of app %s refreshed (version %s)", self.app_id, fresh.version)
            return fresh

    def note_quota(self, daily: int | None, remaining: int | None, at: datetime) -> None:
        """Keep the quota Zalo's answer gave; an older answer (a slower worker) never
        overwrites a newer one."""
        if daily is None and remaining is None:
            return
        newer = (col(ZaloToken.quota_at).is_(None)) | (col(ZaloToken.quota_at) <= at)
        with self.engine.begin() as conn:
            conn.execute(
                update(ZaloToken)
                .where(col(ZaloToken.app_id) == self.app_id, newer)
                .values(quota_daily=daily, quota_remaining=remaining, quota_at=at)
            )

    def _row(self) -> Any:
        return select(ZaloToken).where(col(ZaloToken.app_id) == self.app_id)

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        # A connection of its own: the lock lives exactly as long as this transaction.
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    def _write(self, conn: Connection, **values: Any) -> None:
        conn.execute(
            update(ZaloToken)
            .where(col(ZaloToken.app_id) == self.app_id)
            .values(updated_at=self.clock(), **values)
        )
        conn.commit()

    def _pair(self, row: Any) -> TokenPair:
        if row is None:
            message = f"no token pair for app {self.app_id}: run the Zalo setup command"
            raise ZaloError("no-token", message, "needs_person", alert_office=True)
        if row.needs_reauthorisation:
            message = f"app {self.app_id} must be re-authorised, then its new pair seeded"
            raise ZaloError("reauthorise", message, "needs_person", alert_office=True)
        return TokenPair(row.access_token, row.refresh_token, row.expires_at, row.version)


def seed_tokens(
    session: Session,
    *,
    app_id: str,
    access: str,
    refresh: str,
    expires_at: datetime,
    now: datetime,
) -> ZaloToken:
    """Store a pair obtained by a person (first setup or re-authorisation); clears the flag.
    The version moves on, so a worker holding the old pair will not overwrite this one."""
    row = session.exec(select(ZaloToken).where(col(ZaloToken.app_id) == app_id)).one_or_none()
    if row is None:
        row = ZaloToken(
            app_id=app_id,
            access_token=access,
            refresh_token=refresh,
            expires_at=expires_at,
            version=0,
            updated_at=now,
        )
    else:
        row.access_token, row.refresh_token, row.expires_at = access, refresh, expires_at
        row.version, row.updated_at, row.needs_reauthorisation = row.version + 1, now, False
    session.add(row)
    session.flush()
    return row
