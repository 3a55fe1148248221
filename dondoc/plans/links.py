"""Plans form a family: a district plan implements a city plan. Link them (in whichever order
they are loaded) and check that a lower level is due no later than its parent."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from dondoc.errors import Problem
from dondoc.rules.deadlines import format_deadline_vi
from models import Assignment, Campaign, Requirement, Unit

if TYPE_CHECKING:
    from dondoc.plans.loader import PlanSource


def find_parent(session: Session, number: str, issuer_code: str) -> Campaign | None:
    issuer = aliased(Unit)
    return session.exec(
        select(Campaign)
        .join(issuer, col(issuer.id) == Campaign.issuer_unit_id)
        .where(Campaign.doc_number == number, issuer.code == issuer_code)
        .order_by(col(Campaign.issued_on).desc())
    ).first()


def due_for_unit(session: Session, campaign_id: int, unit_code: str) -> datetime | None:
    """The earliest effective deadline of a unit's assignments in a campaign."""
    due = func.coalesce(Assignment.extended_due_at, Requirement.due_at)
    value = session.exec(
        select(func.min(due))
        .select_from(Assignment)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .where(Requirement.campaign_id == campaign_id, Unit.code == unit_code)
    ).one()
    return _aware(value)


def _aware(value: datetime | str | None) -> datetime | None:
    # func.min() loses the column type on SQLite, so the value may come back as text.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))


def check_family_deadlines(
    session: Session, source: PlanSource, selections: dict[str, list[str]], tz: ZoneInfo
) -> list[Problem]:
    return _check_up(session, source, tz) + _check_down(session, source, selections, tz)


def _check_up(session: Session, source: PlanSource, tz: ZoneInfo) -> list[Problem]:
    plan = source.spec.plan
    basis = next((b for b in plan.basis if b.implements and b.issuer_unit), None)
    parent = find_parent(session, basis.number, basis.issuer_unit or "") if basis else None
    limit = due_for_unit(session, parent.id or 0, plan.issuer) if parent else None
    if parent is None or limit is None:
        return []
    problems = []
    for n, req in enumerate(source.spec.requirements):
        if req.due.ends_at(tz) > limit:
            msg = (
                f"deadline {format_deadline_vi(req.due.ends_at(tz), tz)} is after the parent plan "
                f"{parent.doc_number}'s deadline for {plan.issuer} "
                f"({format_deadline_vi(limit, tz)})"
            )
            problems.append(source.problem(("requirements", n, "due"), msg))
    return problems


def _children(session: Session, number: str, issuer_code: str) -> list[tuple[Campaign, str]]:
    parent_issuer, child_issuer = aliased(Unit), aliased(Unit)
    rows = session.exec(
        select(Campaign, child_issuer.code)
        .join(parent_issuer, col(parent_issuer.id) == Campaign.parent_issuer_unit_id)
        .join(child_issuer, col(child_issuer.id) == Campaign.issuer_unit_id)
        .where(Campaign.parent_doc_number == number, parent_issuer.code == issuer_code)
    ).all()
    return [(c, code) for c, code in rows]


def _latest_due(session: Session, campaign_id: int) -> datetime | None:
    return _aware(
        session.exec(
            select(func.max(Requirement.due_at)).where(Requirement.campaign_id == campaign_id)
        ).one()
    )


def _check_down(
    session: Session, source: PlanSource, selections: dict[str, list[str]], tz: ZoneInfo
) -> list[Problem]:
    plan = source.spec.plan
    problems = []
    for child, child_issuer in _children(session, plan.number, plan.issuer):
        child_due = _latest_due(session, child.id or 0)
        for n, req in enumerate(source.spec.requirements):
            selected = child_issuer in selections.get(req.code, [])
            if child_due and selected and req.due.ends_at(tz) < child_due:
                msg = (
                    f"deadline {format_deadline_vi(req.due.ends_at(tz), tz)} is before the "
                    f"deadline {format_deadline_vi(child_due, tz)} of {child.doc_number} "
                    f"({child_issuer}), which reports up into this plan"
                )
                problems.append(source.problem(("requirements", n, "due"), msg))
    return problems


def link_family(session: Session, campaign: Campaign) -> None:
    """Point this campaign at its parent and its children at it, whichever came first."""
    if campaign.parent_doc_number and campaign.parent_issuer_unit_id:
        issuer = session.get(Unit, campaign.parent_issuer_unit_id)
        parent = find_parent(session, campaign.parent_doc_number, issuer.code) if issuer else None
        campaign.parent_campaign_id = parent.id if parent else None
        session.add(campaign)
    issuer = session.get(Unit, campaign.issuer_unit_id)
    for child, _ in _children(session, campaign.doc_number, issuer.code if issuer else ""):
        child.parent_campaign_id = campaign.id
        session.add(child)
    session.flush()
