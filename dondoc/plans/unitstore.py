"""Units in the database: the combined view (database + file) used to check references,
and the upsert that writes a validated unit list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from dondoc.errors import Problem
from dondoc.plans.schema import UnitSpec
from dondoc.plans.unitlist import Located
from models import Contact, Unit


@dataclass(frozen=True)
class UnitView:
    code: str
    parent: str | None
    kind: str
    sector: str | None
    valid_from: date | None
    valid_to: date | None

    def valid_during(self, start: date, end: date) -> bool:
        return (self.valid_from is None or self.valid_from <= end) and (
            self.valid_to is None or self.valid_to >= start
        )


def unit_views(session: Session, located: Sequence[Located]) -> dict[str, UnitView]:
    """Every unit as it will be after the load: the database, overridden by the file."""
    parent = aliased(Unit)
    rows = session.exec(
        select(Unit, parent.code).outerjoin(parent, col(Unit.parent_id) == parent.id)
    ).all()
    views = {
        u.code: UnitView(u.code, p, u.kind, u.sector, u.valid_from, u.valid_to) for u, p in rows
    }
    for item in located:
        s = item.spec
        views[s.code] = UnitView(s.code, s.parent, s.kind, s.sector, s.valid_from, s.valid_to)
    return views


def check_units(located: Sequence[Located], views: dict[str, UnitView]) -> list[Problem]:
    problems = []
    for item in located:
        parent = item.spec.parent
        if parent and parent not in views:
            field = f"{item.field_prefix}parent"
            problems.append(Problem(item.file, item.line, field, f"unknown unit code {parent!r}"))
        elif _in_cycle(item.spec.code, views):
            field = f"{item.field_prefix}parent"
            problems.append(Problem(item.file, item.line, field, "the parent chain loops back"))
    return problems


def _in_cycle(code: str, views: dict[str, UnitView]) -> bool:
    seen = {code}
    current = views[code].parent
    while current is not None and current in views:
        if current in seen:
            return True
        seen.add(current)
        current = views[current].parent
    return False


@dataclass
class UnitWriteResult:
    created: int = 0
    updated: int = 0


def write_units(session: Session, specs: Iterable[UnitSpec]) -> UnitWriteResult:
    """Upsert units by code, then their parents and contacts. The file is the truth for the
    units it lists (contacts it omits are removed); other units are left alone."""
    specs = list(specs)
    result = UnitWriteResult()
    existing = units_by_code(session, [s.code for s in specs])
    for spec in specs:
        unit = existing.get(spec.code)
        if unit is None:
            unit = Unit(code=spec.code, name=spec.name, kind=spec.kind)
            existing[spec.code] = unit
            result.created += 1
        else:
            result.updated += 1
        _copy_fields(unit, spec)
        session.add(unit)
    session.flush()
    parents = units_by_code(session, [s.parent for s in specs if s.parent])
    for spec in specs:
        existing[spec.code].parent_id = parents[spec.parent].id if spec.parent else None
        _write_contacts(session, existing[spec.code], spec)
    session.flush()
    return result


def units_by_code(session: Session, codes: Sequence[str]) -> dict[str, Unit]:
    found: dict[str, Unit] = {}
    unique = sorted(set(codes))
    for start in range(0, len(unique), 500):  # keep IN lists short for both backends
        chunk = unique[start : start + 500]
        found |= {u.code: u for u in session.exec(select(Unit).where(col(Unit.code).in_(chunk)))}
    return found


def _copy_fields(unit: Unit, spec: UnitSpec) -> None:
    unit.name = spec.name
    unit.short_name = spec.short_name
    unit.kind = spec.kind.value
    unit.sector = spec.sector.value if spec.sector else None
    unit.ward = spec.ward
    unit.calendar = spec.calendar.value
    unit.valid_from = spec.valid_from
    unit.valid_to = spec.valid_to


def _write_contacts(session: Session, unit: Unit, spec: UnitSpec) -> None:
    current = {c.role: c for c in session.exec(select(Contact).where(Contact.unit_id == unit.id))}
    wanted = {c.role.value: c for c in spec.contacts}
    for role, contact in current.items():
        if role not in wanted:
            session.delete(contact)
    for role, c in wanted.items():
        row = current.get(role) or Contact(unit_id=unit.id or 0, role=role)
        row.name, row.email, row.zalo_phone = c.name, c.email, c.zalo
        row.consent_email = "email" in c.consent
        row.consent_zalo = "zalo" in c.consent
        session.add(row)
