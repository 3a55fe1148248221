"""When a requirement is ready to consolidate, and the claim that makes "start it once" true.

The rules are pure functions of the facts and `now`. The claim is an INSERT into
requirement_completion, whose unique (requirement_id, state_key) decides which of two
overlapping tracking runs goes on to start the consolidation."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dondoc.rules.calendar import WorkingCalendar, WorkWeek
from dondoc.rules.status import ReviewState, SubmissionFacts
from dondoc.tracking import submissions_by_assignment
from models import Assignment, Campaign, Requirement, RequirementCompletion, Unit

EXEMPT = "exempt"
COMPLETE = "complete"
CUTOFF = "cutoff"
MANUAL = "manual"


@dataclass(frozen=True)
class AssignmentFacts:
    assignment_id: int
    exempt: bool
    submissions: Sequence[SubmissionFacts] = ()


@dataclass(frozen=True)
class RequirementFacts:
    requirement_id: int
    code: str
    review_required: bool
    due_date: date
    due_at: datetime
    cutoff_days: int | None
    week: WorkWeek  # the consolidating unit's working week
    assignments: Sequence[AssignmentFacts]


@dataclass(frozen=True)
class Progress:
    requirement_id: int
    requirement_code: str
    required: int  # assignments not exempt
    done: int  # of those, with a version that counts
    complete: bool
    state_key: str


@dataclass(frozen=True)
class Claim:
    requirement_id: int
    requirement_code: str
    state_key: str
    reason: str


def counted_version(a: AssignmentFacts, *, review_required: bool, now: datetime) -> str | None:
    """What the consolidation takes from a unit: EXEMPT, a version number, or None (not done).

    A unit whose latest version was returned is not done. Otherwise the latest accepted version
    counts (or the latest received one when the requirement needs no review): a newer version
    still waiting for review does not undo an accepted one."""
    if a.exempt:
        return EXEMPT
    received = sorted((s for s in a.submissions if s.received_at <= now), key=lambda s: s.version)
    if not received or received[-1].review_state == ReviewState.RETURNED:
        return None
    usable = {ReviewState.ACCEPTED.value}
    if not review_required:
        usable.add(ReviewState.RECEIVED.value)
    return next((str(s.version) for s in reversed(received) if s.review_state in usable), None)


def state_key(counted: Mapping[int, str | None]) -> str:
    """SHA-256 of the sorted (assignment, counted version or 'exempt') pairs: a new version
    that counts, an exemption or a return is a new state."""
    text = "\n".join(f"{aid}:{v or '-'}" for aid, v in sorted(counted.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def progress(req: RequirementFacts, *, now: datetime) -> Progress:
    """Complete: every unit not exempt has a version that counts, and at least one does."""
    counted = {
        a.assignment_id: counted_version(a, review_required=req.review_required, now=now)
        for a in req.assignments
    }
    required = sum(1 for v in counted.values() if v != EXEMPT)
    done = sum(1 for v in counted.values() if v not in (None, EXEMPT))
    complete = done == required and done > 0
    return Progress(req.requirement_id, req.code, required, done, complete, state_key(counted))


def cutoff_day(due_date: date, days: int, calendar: WorkingCalendar) -> date:
    """The office's last day to consolidate: `days` working days after the deadline day."""
    return calendar.add_working_days(due_date, days)


def cutoff_at(req: RequirementFacts, tz: ZoneInfo) -> datetime | None:
    """The start of the cut-off day (the office consolidates during it), never before the
    deadline itself; None when the requirement has no cut-off."""
    if req.cutoff_days is None:
        return None
    day = cutoff_day(req.due_date, req.cutoff_days, WorkingCalendar(req.week))
    return max(datetime.combine(day, time(0), tzinfo=tz), req.due_at)


def claim_due(
    req: RequirementFacts, p: Progress, *, now: datetime, tz: ZoneInfo, claimed: Collection[str]
) -> Claim | None:
    """A state not claimed yet that is to be consolidated: a complete one at any time; from the
    cut-off on, any one, so that a late submission, a correction or an acceptance after the
    cut-off makes a new version of the consolidation."""
    if p.state_key in claimed:
        return None
    if p.complete:
        return Claim(req.requirement_id, req.code, p.state_key, COMPLETE)
    cut = cutoff_at(req, tz)
    if cut is None or now < cut:
        return None
    return Claim(req.requirement_id, req.code, p.state_key, CUTOFF)


# --- database -------------------------------------------------------------------------------


def load_requirements(
    session: Session, campaign: Campaign, *, now: datetime
) -> list[RequirementFacts]:
    """The campaign's requirements with their assignments and the versions received by `now`
    (three queries, whatever the number of units)."""
    versions = submissions_by_assignment(session, campaign, now)
    assignments: dict[int, list[AssignmentFacts]] = defaultdict(list)
    for aid, rid, exempt in session.exec(
        select(Assignment.id, Assignment.requirement_id, Assignment.exempt)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(Requirement.campaign_id == campaign.id)
    ):
        assignments[rid].append(AssignmentFacts(aid or 0, exempt, versions.get(aid or 0, [])))
    rows = session.exec(
        select(Requirement, Unit.calendar)
        .join(Unit, col(Unit.id) == Requirement.consolidator_unit_id)
        .where(Requirement.campaign_id == campaign.id)
        .order_by(col(Requirement.position))
    )
    return [_facts(r, WorkWeek(week), assignments[r.id or 0]) for r, week in rows]


def _facts(r: Requirement, week: WorkWeek, assignments: list[AssignmentFacts]) -> RequirementFacts:
    return RequirementFacts(
        r.id or 0,
        r.code,
        r.review_required,
        r.due_date,
        r.due_at,
        r.consolidation_cutoff_days,
        week,
        assignments,
    )


def claimed_keys(session: Session, campaign_id: int) -> dict[int, set[str]]:
    keys: dict[int, set[str]] = defaultdict(set)
    for rid, key in session.exec(
        select(RequirementCompletion.requirement_id, RequirementCompletion.state_key)
        .join(Requirement, col(Requirement.id) == RequirementCompletion.requirement_id)
        .where(Requirement.campaign_id == campaign_id)
    ):
        keys[rid].add(key)
    return keys


def claim_completion(
    session: Session,
    *,
    requirement_id: int,
    state_key: str,
    reason: str,
    now: datetime,
    flow_run_id: str | None = None,
) -> bool:
    """Insert the claim; False when the state was claimed already (another run got there
    first). The savepoint keeps the caller's transaction usable after the refusal."""
    row = RequirementCompletion(
        requirement_id=requirement_id,
        state_key=state_key,
        reason=reason,
        seen_at=now,
        flow_run_id=flow_run_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def claim_completions(
    session: Session,
    campaign: Campaign,
    *,
    now: datetime,
    tz: ZoneInfo,
    flow_run_id: str | None = None,
) -> tuple[list[Progress], list[Claim]]:
    """Every requirement's progress at `now`, and the claims this call won."""
    claimed = claimed_keys(session, campaign.id or 0)
    progresses, won = [], []
    for req in load_requirements(session, campaign, now=now):
        p = progress(req, now=now)
        progresses.append(p)
        claim = claim_due(req, p, now=now, tz=tz, claimed=claimed[req.requirement_id])
        if claim and claim_completion(
            session,
            requirement_id=claim.requirement_id,
            state_key=claim.state_key,
            reason=claim.reason,
            now=now,
            flow_run_id=flow_run_id,
        ):
            won.append(claim)
    return progresses, won
