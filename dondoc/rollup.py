"""The office's side of a consolidation: run it on demand, accept a version, and the roll-up
that acceptance triggers — the version becomes the issuing unit's submission in the parent
campaign (the district's report in the city's campaign), carrying its files and totals.

Exactly once: acceptance is a conditional UPDATE, and the roll-up submission is unique per
(assignment, source_ref), so a double click or a retry adds nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from dondoc.completion import MANUAL, claim_completion, load_requirements, progress
from dondoc.consolidation import (
    ConsolidationError,
    consolidate_claim,
    draft,
    files_of,
    for_completion,
)
from dondoc.intake import record_submission
from dondoc.reportsource import read_source
from dondoc.rules import aggregate_codec
from dondoc.rules.aggregate import RATIO, SUM
from dondoc.storage import StoredFile
from models import (
    Assignment,
    AuditEvent,
    Campaign,
    Consolidation,
    Requirement,
    RequirementCompletion,
    Submission,
    Unit,
)
from models.enums import Channel


class OlderVersionError(ConsolidationError):
    """A newer version of the requirement's consolidation is accepted already."""


class NoParentDutyError(ConsolidationError):
    """The parent campaign asks nothing of the issuing unit: nothing to roll up into."""


@dataclass(frozen=True)
class Storage:
    tz: ZoneInfo
    root: Path


def requirements_of(session: Session, campaign: Campaign, code: str | None) -> list[Requirement]:
    rows = list(
        session.exec(
            select(Requirement)
            .where(Requirement.campaign_id == campaign.id)
            .order_by(col(Requirement.position))
        )
    )
    if code is None:
        return rows
    chosen = [r for r in rows if r.code == code]
    if not chosen:
        known = ", ".join(r.code for r in rows)
        raise ConsolidationError(f"campaign {campaign.code} has no requirement {code!r} ({known})")
    return chosen


def run_now(
    session: Session, campaign: Campaign, requirement: Requirement, *, now: datetime, by: str,
    storage: Storage,
) -> Consolidation:  # fmt: skip
    """The office's "consolidate now": the state as of `now`, claimed as a manual run unless
    that state was claimed already (then its existing version)."""
    facts = next(
        f
        for f in load_requirements(session, campaign, now=now)
        if f.requirement_id == requirement.id
    )
    key = progress(facts, now=now).state_key
    claim_completion(
        session, requirement_id=facts.requirement_id, state_key=key, reason=MANUAL, now=now
    )
    claim = session.exec(
        select(RequirementCompletion).where(
            RequirementCompletion.requirement_id == facts.requirement_id,
            RequirementCompletion.state_key == key,
        )
    ).one()
    details = {"requirement": requirement.code}
    _audit(session, campaign.id, "consolidation.requested", by, now, details)
    return consolidate_claim(
        session, claim.id or 0, now=now, tz=storage.tz, storage_root=storage.root
    )


def preview(
    session: Session, requirement: Requirement, *, now: datetime, storage: Storage, out: Path
) -> list[Path]:
    """The files as they would be drafted now, written to `out`; nothing is recorded."""
    source = read_source(session, requirement.id or 0, as_of=now)
    drafted = draft(session, source, tz=storage.tz, storage_root=storage.root)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for _, name, data in drafted.files:
        (out / name).write_bytes(data)
        paths.append(out / name)
    return paths


def accept(session: Session, consolidation_id: int, *, by: str, now: datetime) -> Consolidation:
    """Accept a version (once), then roll it up when the requirement reports up."""
    row = session.get(Consolidation, consolidation_id)
    if row is None:
        raise ConsolidationError(f"no consolidation {consolidation_id}")
    _refuse_older(session, row)
    won = session.execute(
        update(Consolidation)
        .where(col(Consolidation.id) == row.id, col(Consolidation.accepted_at).is_(None))
        .values(accepted_at=now, accepted_by=by)
    )
    session.refresh(row)
    if won.rowcount == 1:  # type: ignore[attr-defined]
        campaign_id = session.get_one(Requirement, row.requirement_id).campaign_id
        details = {"consolidation": row.id, "version": row.version}
        _audit(session, campaign_id, "consolidation.accepted", by, now, details)
    if row.rollup_submission_id is None:
        roll_up(session, row, by=by, now=now)
    return row


def roll_up(session: Session, row: Consolidation, *, by: str, now: datetime) -> Submission | None:
    requirement = session.get_one(Requirement, row.requirement_id)
    campaign = session.get_one(Campaign, requirement.campaign_id)
    if not requirement.report_up or campaign.parent_campaign_id is None:
        return None
    assignment = parent_assignment(session, campaign, requirement)
    ref = f"consolidation:{row.id}"
    existing = session.exec(
        select(Submission).where(
            Submission.assignment_id == assignment.id, Submission.source_ref == ref
        )
    ).first()
    submission = existing or record_submission(
        session,
        assignment=assignment,
        received_at=now,
        channel=Channel.ROLLUP,
        files=[
            StoredFile(f.name, f.size, f.sha256, f.storage_path)
            for f in files_of(session, row.id or 0)
        ],
        values=rollup_values(row, _indicator_keys(session, assignment)),
        recorded_by=by,
        note=f"Bản tổng hợp lần {row.version} ({requirement.code}, {campaign.doc_number})",
        source_ref=ref,
        now=now,
    )
    row.rollup_submission_id = submission.id
    session.add(row)
    session.flush()
    return submission


def parent_assignment(session: Session, campaign: Campaign, requirement: Requirement) -> Assignment:
    """The issuing unit's assignment in the parent campaign; with several, the one whose
    indicators overlap this requirement's most (then the first in the plan)."""
    rows = session.exec(
        select(Assignment, Requirement)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(
            Requirement.campaign_id == campaign.parent_campaign_id,
            Assignment.unit_id == campaign.issuer_unit_id,
        )
        .order_by(col(Requirement.position))
    ).all()
    if not rows:
        issuer = session.get_one(Unit, campaign.issuer_unit_id)
        parent = session.get_one(Campaign, campaign.parent_campaign_id)
        raise NoParentDutyError(
            f"the parent campaign {parent.code} asks nothing of {issuer.code}: "
            "nothing to roll up into"
        )
    mine = set(requirement.indicator_keys)
    best = max(rows, key=lambda r: (len(mine & set(r[1].indicator_keys)), -r[1].position))
    return best[0]


def rollup_values(row: Consolidation, keys: set[str]) -> dict[str, Decimal | str]:
    """The totals as the parent's figures, for people to read (sums and rates); the parent's own
    consolidation combines the stored aggregate itself, counts and breakdowns included."""
    totals = aggregate_codec.load(row.totals).totals
    return {
        key: t.value
        for key, t in totals.items()
        if key in keys and t.rule in (SUM, RATIO) and t.value is not None
    }


def _indicator_keys(session: Session, assignment: Assignment) -> set[str]:
    return set(session.get_one(Requirement, assignment.requirement_id).indicator_keys)


def _refuse_older(session: Session, row: Consolidation) -> None:
    newer = session.exec(
        select(Consolidation.version).where(
            Consolidation.requirement_id == row.requirement_id,
            col(Consolidation.version) > row.version,
            col(Consolidation.accepted_at).is_not(None),
        )
    ).first()
    if newer is not None:
        raise OlderVersionError(
            f"version {newer} is accepted already: version {row.version} is older"
        )


def _audit(
    session: Session,
    campaign_id: int | None,
    action: str,
    by: str,
    now: datetime,
    details: Mapping[str, object],
) -> None:
    session.add(
        AuditEvent(at=now, actor=by, action=action, campaign_id=campaign_id, details=dict(details))
    )


__all__ = ["ConsolidationError", "accept", "for_completion", "preview", "roll_up", "run_now"]
