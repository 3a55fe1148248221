"""Looking campaigns, units and assignments up by the codes people type."""

from __future__ import annotations

from sqlmodel import Session, col, select

from dondoc.errors import NotFoundError
from models import Assignment, Campaign, Requirement, Unit


def get_campaign(session: Session, code: str) -> Campaign:
    campaign = session.exec(select(Campaign).where(Campaign.code == code)).first()
    if campaign is None:
        raise NotFoundError(f"no campaign {code!r} (see `dondoc campaigns`)")
    return campaign


def get_unit(session: Session, code: str) -> Unit:
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise NotFoundError(f"no unit {code!r}")
    return unit


def get_assignment(
    session: Session, campaign: Campaign, unit: Unit, requirement: str | None = None
) -> tuple[Assignment, Requirement]:
    """The unit's assignment in the campaign; the requirement code is needed only when the
    unit has several."""
    query = (
        select(Assignment, Requirement)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(Requirement.campaign_id == campaign.id, Assignment.unit_id == unit.id)
    )
    if requirement:
        query = query.where(Requirement.code == requirement)
    rows = session.exec(query.order_by(col(Requirement.position))).all()
    if not rows:
        what = f"requirement {requirement!r} of " if requirement else ""
        raise NotFoundError(f"unit {unit.code} has nothing to submit under {what}{campaign.code}")
    if len(rows) > 1:
        codes = ", ".join(r.code for _, r in rows)
        raise NotFoundError(f"unit {unit.code} has several requirements ({codes}): name one")
    return rows[0]


def assigned_units(session: Session, campaign_id: int) -> list[Unit]:
    """Units with at least one assignment in the campaign, by code."""
    return list(
        session.exec(
            select(Unit)
            .where(
                col(Unit.id).in_(
                    select(Assignment.unit_id)
                    .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
                    .where(Requirement.campaign_id == campaign_id)
                )
            )
            .order_by(col(Unit.code))
        )
    )
