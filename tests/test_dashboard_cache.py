"""The campaign page's snapshot is kept between views, and every change shows on the next view:
a submission, a return, an extension, an exemption, a change made by another process, a
transaction that commits late, a deadline or a report's time of receipt passing. Each view
opens its own session, as a request does. SQLite and PostgreSQL; time frozen at 09:00 on
25/11/2015 (tests/support/office.py tells who has reported by then)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session

from dondoc import accounts, dashboard
from dondoc.campaigns import get_assignment, get_campaign, get_unit
from dondoc.dashboard import UnitFilter
from dondoc.db import make_engine, session_scope
from dondoc.office import exempt, extend, review
from dondoc.rules.deadlines import VN_TZ, parse_deadline
from dondoc.rules.status import Status
from models import Assignment, Requirement
from tests.support.office import CAMPAIGN, NOW, load_seed, local, mixed_scenario, submit
from tests.support.office import versions_of as versions


@pytest.fixture(autouse=True)
def campaign(env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    with session_scope() as session:
        load_seed(session, tmp_path)
        mixed_scenario(session)


def counts(now: datetime = NOW) -> Counter[Status]:
    """What a page view at `now` shows for the CĐCS requirement."""
    with session_scope() as session:
        shown = dashboard.progress(session, get_campaign(session, CAMPAIGN), now=now)
    return Counter(next(p.counts for p in shown if p.code == "cdcs"))


def listed(status: Status, now: datetime = NOW) -> list[str]:
    """The units a page view at `now` lists under the status."""
    with session_scope() as session:
        campaign = get_campaign(session, CAMPAIGN)
        page = dashboard.unit_page(session, campaign, now=now, filters=UnitFilter(status=status))
    return sorted(r.unit_code for r in page.rows)


def change(act: Callable[[Session], object]) -> None:
    """A write in its own transaction, as an office action or the tracking flow makes it."""
    with session_scope() as session:
        act(session)


def assignment(session: Session, unit: str) -> tuple[Assignment, Requirement]:
    return get_assignment(session, get_campaign(session, CAMPAIGN), get_unit(session, unit))


def test_an_unchanged_campaign_is_served_from_the_kept_snapshot() -> None:
    with session_scope() as session:
        campaign = get_campaign(session, CAMPAIGN)
        first = dashboard.snapshot(session, campaign, now=NOW)
    with session_scope() as session:
        later = dashboard.snapshot(session, campaign, now=NOW + timedelta(hours=1))
    assert later is first


def test_a_new_submission_counts_at_once() -> None:
    assert counts()[Status.OVERDUE] == 50
    change(lambda s: submit(s, "Q1-CD007", "2015-11-25 08:30"))
    assert (counts()[Status.OVERDUE], counts()[Status.LATE]) == (49, 2)
    assert listed(Status.LATE) == ["LDLD-Q1-BTG", "Q1-CD002", "Q1-CD007"]


def test_a_return_for_correction_counts_at_once() -> None:
    assert counts()[Status.RETURNED] == 1

    def send_back(session: Session) -> None:
        [version] = versions(session, "Q1-CD001")
        a, _ = assignment(session, "Q1-CD001")
        review(session, version, a, accept=False, reason="Thiếu phụ lục", by="t", now=NOW)

    change(send_back)
    assert counts()[Status.RETURNED] == 2
    assert listed(Status.RETURNED) == ["Q1-CD001", "Q1-CD005"]


def test_an_extension_counts_at_once() -> None:
    assert listed(Status.PENDING) == ["Q1-CD003"]

    def extend_cd008(session: Session) -> None:
        a, r = assignment(session, "Q1-CD008")
        until = parse_deadline("đến hết ngày 30/11/2015")
        extend(session, a, r, until=until, reason="Ốm", by="t", now=NOW, tz=VN_TZ)

    change(extend_cd008)
    assert listed(Status.PENDING) == ["Q1-CD003", "Q1-CD008"]
    assert counts()[Status.OVERDUE] == 49


def test_an_exemption_counts_at_once() -> None:
    assert counts()[Status.EXEMPT] == 1
    change(lambda s: exempt(s, assignment(s, "Q1-CD009")[0], reason="Giải thể", by="t", now=NOW))
    assert counts()[Status.EXEMPT] == 2
    assert listed(Status.EXEMPT) == ["Q1-CD009", "Q1-CD047"]


def test_a_deadline_passing_turns_the_extended_unit_overdue() -> None:
    # CD003's extension runs to the end of 27/11: pending at 23:59:59, overdue at midnight.
    last_second = local("2015-11-27 23:59:59")
    assert counts(last_second)[Status.PENDING] == 1
    assert counts(last_second + timedelta(seconds=1))[Status.PENDING] == 0
    assert "Q1-CD003" in listed(Status.OVERDUE, last_second + timedelta(seconds=1))


def test_a_report_recorded_ahead_counts_from_its_time_of_receipt() -> None:
    # CD004's report is dated 26/11 10:00: missing before, late from then on.
    assert "Q1-CD004" in listed(Status.OVERDUE, local("2015-11-26 09:59:59"))
    assert "Q1-CD004" in listed(Status.LATE, local("2015-11-26 10:00"))


def test_looking_back_in_time_shows_the_statuses_of_then() -> None:
    assert counts(local("2015-11-28 08:00"))[Status.PENDING] == 0
    assert counts(local("2015-11-20 08:00"))[Status.PENDING] == 55


def test_a_change_made_by_another_process_shows_at_once(env: str) -> None:
    assert counts()[Status.ON_TIME] == 2
    other = make_engine(env)  # another process: its own engine and connections
    try:
        with session_scope(other) as session:
            submit(session, "Q1-CD010", "2015-11-24 20:00")
    finally:
        other.dispose()
    assert counts()[Status.ON_TIME] == 3


def test_a_transaction_that_commits_after_a_later_one_still_counts(env: str) -> None:
    """PostgreSQL gives out ids before commit: the slow transaction's rows land below the
    newest id. (SQLite runs one writer at a time: the second would wait for the first.)"""
    if env.startswith("sqlite"):
        pytest.skip("SQLite serialises writers")
    with session_scope() as slow:
        submit(slow, "Q1-CD011", "2015-11-24 20:00")  # ids taken, not committed yet
        change(lambda s: submit(s, "Q1-CD012", "2015-11-24 21:00"))
        assert counts()[Status.ON_TIME] == 3  # the snapshot without CD011
    assert counts()[Status.ON_TIME] == 4
