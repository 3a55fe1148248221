"""FastAPI dependencies: the clock, a database session per request, the office user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from dondoc.db import session_scope
from models import OfficeUser

SESSION_USER = "uid"


async def get_now() -> datetime:
    """The request's one clock reading; tests override this dependency to freeze time.
    (async: a plain function would be sent to the thread pool and back on every request)"""
    return datetime.now(UTC)


def get_session() -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    with session_scope() as session:
        yield session


Now = Annotated[datetime, Depends(get_now)]
# scope="function": the transaction commits before the response is sent, so a redirect's next
# page always sees the change.
DB = Annotated[Session, Depends(get_session, scope="function")]


class LoginRequiredError(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


# The request's own session (DB), not a second one: two sessions hold two pooled connections
# per request, and under load every request holds its first while waiting for its second.
def current_user(request: Request, session: DB) -> OfficeUser:
    user_id = request.session.get(SESSION_USER)
    user = session.get(OfficeUser, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active:
        raise LoginRequiredError(str(request.url.path))
    return user


User = Annotated[OfficeUser, Depends(current_user)]


@contextmanager
def office_session(request: Request) -> Iterator[tuple[Session, OfficeUser]]:
    """DB and User in one step, inside the handler, for the office's busiest page: each sync
    dependency is a trip through the thread pool and back (the session's two), which costs
    more than the page itself once its data is kept (bench/README.md)."""
    with session_scope() as session:
        yield session, current_user(request, session)
