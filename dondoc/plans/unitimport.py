"""`dondoc units import`: a CSV/XLSX unit list checked against the database, then written."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from dondoc.errors import InputError
from dondoc.plans.unitlist import read_unit_list
from dondoc.plans.unitstore import UnitWriteResult, check_units, unit_views, write_units
from models import AuditEvent


def import_units(session: Session, path: Path, *, now: datetime, actor: str) -> UnitWriteResult:
    located = read_unit_list(path)
    problems = check_units(located, unit_views(session, located))
    if problems:
        raise InputError(problems)
    result = write_units(session, [item.spec for item in located])
    details = {"file": path.name, "created": result.created, "updated": result.updated}
    session.add(AuditEvent(at=now, actor=actor, action="units.imported", details=details))
    return result
