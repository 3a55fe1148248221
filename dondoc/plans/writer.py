"""Write a validated plan's campaign rows (campaign, basis, distribution, indicators, targets,
requirements). Called only after every check passed, inside the caller's transaction."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, SQLModel, col, delete, select

from dondoc.plans.schema import IndicatorSpec, PlanFile, RequirementSpec
from dondoc.plans.unitstore import units_by_code
from dondoc.rules.reminders import DEFAULT_POLICY
from models import (
    BasisDocument,
    Campaign,
    DistributionEntry,
    IndicatorDefinition,
    Requirement,
    Target,
)


def _unit_ids(session: Session, spec: PlanFile) -> dict[str, int]:
    plan = spec.plan
    codes = [plan.issuer, *(b.issuer_unit for b in plan.basis if b.issuer_unit)]
    codes += [d.unit for d in plan.distribution if d.unit]
    for req in spec.requirements:
        codes += [req.submit_to, req.consolidated_by or req.submit_to]
    return {code: unit.id or 0 for code, unit in units_by_code(session, codes).items()}


def write_campaign(
    session: Session, spec: PlanFile, campaign: Campaign | None, source_file: str, tz: ZoneInfo
) -> tuple[Campaign, bool]:
    ids = _unit_ids(session, spec)
    created = campaign is None
    campaign = campaign or Campaign(
        code=spec.plan.code,
        doc_number="",
        doc_year=0,
        issuer_unit_id=0,
        issued_on=spec.plan.issued_on,
        title="",
    )
    _copy_plan(campaign, spec, ids, source_file)
    session.add(campaign)
    session.flush()
    cid = campaign.id or 0
    _replace(session, BasisDocument, cid, _basis_rows(spec, cid))
    _replace(session, DistributionEntry, cid, _distribution_rows(spec, cid, ids))
    _replace(session, Target, cid, _target_rows(spec, cid))
    _sync_indicators(session, spec, cid)
    _sync_requirements(session, spec, cid, ids, tz)
    session.flush()
    return campaign, created


def _copy_plan(campaign: Campaign, spec: PlanFile, ids: dict[str, int], source: str) -> None:
    plan = spec.plan
    parent = next((b for b in plan.basis if b.implements), None)
    campaign.doc_number = plan.number
    campaign.doc_year = plan.issued_on.year
    campaign.issuer_unit_id = ids[plan.issuer]
    campaign.issuing_body = plan.issuing_body
    campaign.issued_on = plan.issued_on
    campaign.place = plan.place
    campaign.title = plan.title
    campaign.period_end = plan.period_end
    campaign.data_cutoff = plan.data_cutoff
    campaign.status = plan.status.value
    campaign.signer_title = plan.signer.title if plan.signer else None
    campaign.signer_name = plan.signer.name if plan.signer else None
    campaign.milestones = [m.model_dump(mode="json") for m in plan.milestones]
    campaign.parent_doc_number = parent.number if parent else None
    campaign.parent_issuer_unit_id = ids.get(parent.issuer_unit or "") if parent else None
    campaign.source_file = source


def _replace(session: Session, model: type[Any], campaign_id: int, rows: list[SQLModel]) -> None:
    session.exec(delete(model).where(col(model.campaign_id) == campaign_id))
    session.add_all(rows)


def _basis_rows(spec: PlanFile, cid: int) -> list[SQLModel]:
    return [
        BasisDocument(
            campaign_id=cid,
            position=n,
            number=b.number,
            doc_date=b.date,
            issuer=b.issuer,
            title=b.title,
            implements=b.implements,
        )
        for n, b in enumerate(spec.plan.basis)
    ]


def _distribution_rows(spec: PlanFile, cid: int, ids: dict[str, int]) -> list[SQLModel]:
    return [
        DistributionEntry(
            campaign_id=cid,
            position=n,
            recipient=d.to,
            role=d.role.value,
            unit_id=ids[d.unit] if d.unit else None,
            requirement_code=d.group,
        )
        for n, d in enumerate(spec.plan.distribution)
    ]


def _target_rows(spec: PlanFile, cid: int) -> list[SQLModel]:
    return [
        Target(
            campaign_id=cid,
            code=t.code,
            position=n,
            label=t.label,
            indicator=t.indicator,
            value=t.value,
            unit=t.unit,
            direction=t.direction,
            scope=t.scope,
            sectors=[s.value for s in t.sectors] if t.sectors else None,
        )
        for n, t in enumerate(spec.targets)
    ]


def _sync_indicators(session: Session, spec: PlanFile, cid: int) -> None:
    current = {
        i.key: i
        for i in session.exec(
            select(IndicatorDefinition).where(IndicatorDefinition.campaign_id == cid)
        )
    }
    wanted = {i.key for i in spec.indicators}
    for key, row in current.items():
        if key not in wanted:
            session.delete(row)
    for n, ind in enumerate(spec.indicators):
        row = current.get(ind.key) or IndicatorDefinition(
            campaign_id=cid, key=ind.key, label=ind.label, type=ind.type
        )
        _copy_indicator(row, ind, n)
        session.add(row)


def _copy_indicator(row: IndicatorDefinition, ind: IndicatorSpec, position: int) -> None:
    row.position = position
    row.label = ind.label
    row.unit = ind.unit
    row.type = ind.type.value
    row.min_value = ind.min
    row.max_value = ind.max
    row.max_of = ind.max_of
    row.sectors = [s.value for s in ind.sectors] if ind.sectors else None
    row.aggregate = ind.aggregate.value
    row.formula = ind.formula
    row.choices = ind.choices
    row.count_choices = ind.count


def _sync_requirements(
    session: Session, spec: PlanFile, cid: int, ids: dict[str, int], tz: ZoneInfo
) -> None:
    current = {
        r.code: r for r in session.exec(select(Requirement).where(Requirement.campaign_id == cid))
    }
    wanted = {r.code for r in spec.requirements}
    for code, row in current.items():
        if code not in wanted:  # _check_removals made sure nothing was submitted under it
            session.delete(row)
    all_keys = [i.key for i in spec.indicators]
    policies = {"default": DEFAULT_POLICY.to_json(), **spec.reminder_policies}
    for n, req in enumerate(spec.requirements):
        row = current.get(req.code) or Requirement(
            campaign_id=cid,
            code=req.code,
            title=req.title,
            submit_to_unit_id=0,
            consolidator_unit_id=0,
            due_text="",
            due_date=req.due.day,
            due_at=req.due.ends_at(tz),
        )
        _copy_requirement(row, req, n, ids, all_keys, tz)
        row.reminder_spec = policies[req.reminder_policy] if req.reminder_policy else None
        session.add(row)


def _copy_requirement(
    row: Requirement,
    req: RequirementSpec,
    position: int,
    ids: dict[str, int],
    all_keys: list[str],
    tz: ZoneInfo,
) -> None:
    row.position = position
    row.title = req.title
    row.group_label = req.group_label
    row.selector = req.units.model_dump(mode="json")
    row.submit_to_unit_id = ids[req.submit_to]
    row.consolidator_unit_id = ids[req.consolidated_by or req.submit_to]
    row.due_text = req.due.text
    row.due_date = req.due.day
    row.due_time = req.due.time
    row.due_at = req.due.ends_at(tz)
    row.hard_close_at = req.hard_close.ends_at(tz) if req.hard_close else None
    row.review_required = req.review == "required"
    row.reminder_policy = req.reminder_policy
    row.consolidation_cutoff_days = req.consolidation_cutoff
    row.report_up = req.report_up
    row.indicator_keys = all_keys if req.indicators == "all" else list(req.indicators)
    row.outline = list(req.outline)
