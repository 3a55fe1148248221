"""Load a plan file into the database: read, validate everything, then write in the caller's
transaction. Any problem raises InputError before the first write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlmodel import Session, col, func, select

from dondoc.errors import InputError, Problem
from dondoc.plans import links
from dondoc.plans.checks import check_plan_file
from dondoc.plans.problems import in_yaml
from dondoc.plans.schema import PlanFile, RequirementSpec, SelectorSpec
from dondoc.plans.unitlist import Located, read_unit_list
from dondoc.plans.unitstore import UnitView, check_units, unit_views, units_by_code, write_units
from dondoc.plans.writer import write_campaign
from dondoc.plans.yamlsource import LineIndex, Path_, format_loc, line_of, load_yaml
from models import Assignment, AuditEvent, Campaign, Requirement, Submission, Unit


@dataclass
class PlanSource:
    """A plan file read and validated on its own (no database yet)."""

    path: Path
    spec: PlanFile
    index: LineIndex
    units: list[Located]

    def problem(self, loc: Path_, message: str) -> Problem:
        return Problem(str(self.path), line_of(self.index, loc), format_loc(loc), message)


@dataclass
class LoadResult:
    campaign_code: str
    created: bool
    units_created: int = 0
    units_updated: int = 0
    requirements: int = 0
    assignments: int = 0
    warnings: list[str] = field(default_factory=list)


def read_plan(path: Path) -> PlanSource:
    data, index = load_yaml(path)
    if not isinstance(data, dict):
        raise InputError([Problem(str(path), 1, "", "expected a plan (a YAML mapping)")])
    try:
        spec = PlanFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(in_yaml(exc, str(path), index)) from exc
    source = PlanSource(path, spec, index, [])
    problems = [source.problem(loc, msg) for loc, msg in check_plan_file(spec)]
    source.units = [
        Located(u, str(path), line_of(index, ("units", n)), f"units[{n}].")
        for n, u in enumerate(spec.units)
    ]
    if spec.units_file:
        try:
            source.units += read_unit_list(path.parent / spec.units_file)
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return source


def load_plan(
    session: Session, path: Path, *, now: datetime, actor: str, tz: ZoneInfo
) -> LoadResult:
    """Validate the plan against the database and write it; idempotent by plan code."""
    source = read_plan(path)
    views = unit_views(session, source.units)
    selections, problems = _check_references(source, views)
    campaign = session.exec(select(Campaign).where(Campaign.code == source.spec.plan.code)).first()
    problems += _check_identity(session, source, campaign)
    problems += _check_removals(session, source, campaign, selections)
    problems += links.check_family_deadlines(session, source, selections, tz)
    if problems:
        raise InputError(problems)
    written = write_units(session, [u.spec for u in source.units])
    campaign, created = write_campaign(session, source.spec, campaign, str(path), tz)
    assignments = _write_assignments(session, campaign, selections)
    links.link_family(session, campaign)
    _audit(session, campaign, now=now, actor=actor, path=path, created=created)
    return LoadResult(
        campaign.code,
        created,
        written.created,
        written.updated,
        len(source.spec.requirements),
        assignments,
        [w for r in source.spec.requirements for w in _warnings(r)],
    )


def _warnings(req: RequirementSpec) -> list[str]:
    return [f"requirement {req.code}: {req.due.warning}"] if req.due.warning else []


def select_units(
    views: dict[str, UnitView], sel: SelectorSpec, req: RequirementSpec, issued_on: Any
) -> list[str]:
    """Codes of the units a requirement applies to, valid at some point of the campaign."""
    chosen = []
    for view in views.values():
        by_parent = (
            sel.parent is not None
            and view.parent == sel.parent
            and (not sel.kinds or view.kind in sel.kinds)
            and (not sel.sectors or view.sector in sel.sectors)
        )
        if (view.code in sel.codes or by_parent) and view.valid_during(issued_on, req.due.day):
            chosen.append(view.code)
    return sorted(chosen)


def _check_references(
    source: PlanSource, views: dict[str, UnitView]
) -> tuple[dict[str, list[str]], list[Problem]]:
    problems = check_units(source.units, views)
    spec = source.spec

    def need(code: str | None, loc: Path_) -> None:
        if code is not None and code not in views:
            problems.append(source.problem(loc, f"unknown unit code {code!r}"))

    need(spec.plan.issuer, ("plan", "issuer"))
    for n, entry in enumerate(spec.plan.distribution):
        need(entry.unit, ("plan", "distribution", n, "unit"))
    for n, basis in enumerate(spec.plan.basis):
        need(basis.issuer_unit, ("plan", "basis", n, "issuer_unit"))
    selections: dict[str, list[str]] = {}
    for n, req in enumerate(spec.requirements):
        need(req.submit_to, ("requirements", n, "submit_to"))
        need(req.consolidated_by, ("requirements", n, "consolidated_by"))
        need(req.units.parent, ("requirements", n, "units", "parent"))
        for i, code in enumerate(req.units.codes):
            need(code, ("requirements", n, "units", "codes", i))
        chosen = select_units(views, req.units, req, spec.plan.issued_on)
        if not chosen:
            problems.append(source.problem(("requirements", n, "units"), "selects no unit"))
        selections[req.code] = chosen
    return selections, problems


def _check_identity(
    session: Session, source: PlanSource, campaign: Campaign | None
) -> list[Problem]:
    """The same document number may not belong to two plans of one issuer in one year."""
    plan = source.spec.plan
    issuer = units_by_code(session, [plan.issuer]).get(plan.issuer)
    if issuer is None:
        return []
    other = session.exec(
        select(Campaign).where(
            Campaign.issuer_unit_id == issuer.id,
            Campaign.doc_year == plan.issued_on.year,
            Campaign.doc_number == plan.number,
            Campaign.code != plan.code,
        )
    ).first()
    if other is None:
        return []
    msg = f"{plan.number} of {plan.issued_on.year} is already plan {other.code!r}"
    return [source.problem(("plan", "number"), msg)]


def _check_removals(
    session: Session,
    source: PlanSource,
    campaign: Campaign | None,
    selections: dict[str, list[str]],
) -> list[Problem]:
    """Reloading may drop requirements or units only where nothing was submitted yet."""
    if campaign is None:
        return []
    rows = session.exec(
        select(Requirement.code, Unit.code, func.count(col(Submission.id)))
        .join(Assignment, col(Assignment.requirement_id) == Requirement.id)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .join(Submission, col(Submission.assignment_id) == Assignment.id)
        .where(Requirement.campaign_id == campaign.id)
        .group_by(Requirement.code, Unit.code)
    ).all()
    problems = []
    for req_code, unit_code, count in rows:
        if unit_code not in selections.get(req_code, []):
            msg = (
                f"unit {unit_code} has {count} submission(s) under requirement {req_code} "
                "and can no longer be left out of it (exempt it instead)"
            )
            problems.append(source.problem(("requirements",), msg))
    return problems


def _write_assignments(
    session: Session, campaign: Campaign, selections: dict[str, list[str]]
) -> int:
    all_codes = [code for codes in selections.values() for code in codes]
    ids = {code: unit.id or 0 for code, unit in units_by_code(session, all_codes).items()}
    total = 0
    requirements = session.exec(select(Requirement).where(Requirement.campaign_id == campaign.id))
    for req in requirements:
        wanted = {ids[c] for c in selections.get(req.code, [])}
        current = {
            a.unit_id: a
            for a in session.exec(select(Assignment).where(Assignment.requirement_id == req.id))
        }
        for unit_id, assignment in current.items():
            if unit_id not in wanted:
                session.delete(assignment)
        for unit_id in sorted(wanted - current.keys()):
            session.add(Assignment(requirement_id=req.id or 0, unit_id=unit_id or 0))
        total += len(wanted)
    session.flush()
    return total


def _audit(
    session: Session, campaign: Campaign, *, now: datetime, actor: str, path: Path, created: bool
) -> None:
    action = "plan.created" if created else "plan.updated"
    session.add(
        AuditEvent(
            at=now,
            actor=actor,
            action=action,
            campaign_id=campaign.id,
            details={"file": path.name, "number": campaign.doc_number},
        )
    )
