"""Read-only queries behind the list commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from models import Assignment, Campaign, Requirement, Unit


@dataclass(frozen=True)
class CampaignSummary:
    code: str
    doc_number: str
    issuer: str
    title: str
    status: str
    requirements: int
    assignments: int
    last_due: datetime | None


def campaign_summaries(session: Session) -> list[CampaignSummary]:
    counts = (
        select(
            Requirement.campaign_id,
            func.count(func.distinct(Requirement.id)).label("requirements"),
            func.count(col(Assignment.id)).label("assignments"),
        )
        .outerjoin(Assignment, col(Assignment.requirement_id) == Requirement.id)
        .group_by(col(Requirement.campaign_id))
        .subquery()
    )
    rows = session.exec(
        select(Campaign, Unit.code, counts.c.requirements, counts.c.assignments)
        .join(Unit, col(Unit.id) == Campaign.issuer_unit_id)
        .outerjoin(counts, counts.c.campaign_id == Campaign.id)
        .order_by(col(Campaign.issued_on), col(Campaign.code))
    ).all()
    return [
        CampaignSummary(
            c.code,
            c.doc_number,
            issuer,
            c.title,
            c.status,
            reqs or 0,
            assigns or 0,
            _last_due(session, c.id or 0),
        )
        for c, issuer, reqs, assigns in rows
    ]


def _last_due(session: Session, campaign_id: int) -> datetime | None:
    return session.exec(
        select(Requirement.due_at)
        .where(Requirement.campaign_id == campaign_id)
        .order_by(col(Requirement.due_at).desc())
    ).first()
