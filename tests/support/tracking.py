"""The seed campaign loaded through the services, and what units and the office do to it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import func, select

from dondoc.campaigns import get_assignment, get_campaign, get_unit
from dondoc.db import session_scope
from dondoc.intake import record_submission
from dondoc.office import review
from dondoc.plans.loader import load_plan
from dondoc.rules.deadlines import VN_TZ
from models import Assignment, Consolidation, RequirementCompletion, Submission
from models.enums import Channel
from tests.support.files import CITY, SEED, copy_examples, replace_once

CAMPAIGN = "q1-so-ket-2015"
DEPARTMENTS = [
    "LDLD-Q1-BTC",
    "LDLD-Q1-BTG",
    "LDLD-Q1-CSPL",
    "LDLD-Q1-BNC",
    "LDLD-Q1-TCKT",
    "LDLD-Q1-QHLD",
    "LDLD-Q1-UBKT",
]


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


def load_seed(dest: Path, *, departments_reviewed: bool = True) -> int:
    """Load a copy of the seed plan; the departments' review can be switched off."""
    dest.mkdir(parents=True, exist_ok=True)
    files = copy_examples(dest)
    if not departments_reviewed:  # the first `review:` of the seed is ban-chuyen-de's
        replace_once(files / SEED, "review: required", "review: not_required")
    with session_scope() as session:
        load_plan(session, files / SEED, now=local("2015-11-16 08:00"), actor="test", tz=VN_TZ)
        return get_campaign(session, CAMPAIGN).id or 0


def load_city(dest: Path) -> None:
    """The city plan the seed implements, from the copy load_seed made (another campaign)."""
    with session_scope() as session:
        load_plan(session, dest / CITY, now=local("2015-11-16 08:00"), actor="test", tz=VN_TZ)


def submit(unit_code: str, at: datetime, *, accept: bool = False) -> int:
    """A unit's report through the portal, accepted by the office at once if asked."""
    with session_scope() as session:
        unit = get_unit(session, unit_code)
        assignment, _ = get_assignment(session, get_campaign(session, CAMPAIGN), unit)
        sub = record_submission(
            session, assignment=assignment, received_at=at, channel=Channel.PORTAL, now=at
        )
        if accept:
            review(session, sub, assignment, accept=True, reason=None, by="vanthu", now=at)
        return sub.id or 0


def accept(submission_id: int, at: datetime) -> None:
    with session_scope() as session:
        sub = session.get_one(Submission, submission_id)
        assignment = session.get_one(Assignment, sub.assignment_id)
        review(session, sub, assignment, accept=True, reason=None, by="vanthu", now=at)


def count(model: type[Submission] | type[RequirementCompletion] | type[Consolidation]) -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(model)).one()
