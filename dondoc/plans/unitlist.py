"""Unit lists as offices keep them: CSV or XLSX, one row per unit, contacts in columns."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dondoc.errors import InputError, Problem
from dondoc.plans.problems import from_validation_error
from dondoc.plans.schema import UnitSpec
from dondoc.plans.yamlsource import Path_, read_text
from models.enums import ContactRole

UNIT_COLUMNS = (
    "code",
    "name",
    "short_name",
    "kind",
    "parent",
    "sector",
    "ward",
    "calendar",
    "valid_from",
    "valid_to",
)
CONTACT_FIELDS = ("name", "email", "zalo", "consent")
# Headers as Vietnamese offices often write them.
ALIASES = {
    "mã đơn vị": "code",
    "mã": "code",
    "tên đơn vị": "name",
    "tên viết tắt": "short_name",
    "loại": "kind",
    "đơn vị cấp trên": "parent",
    "khu vực": "sector",
    "phường": "ward",
    "lịch làm việc": "calendar",
}
MAX_ROWS = 100_000


@dataclass(frozen=True)
class Located:
    """A unit read from a file, with where it came from (for later errors)."""

    spec: UnitSpec
    file: str
    line: int | None
    field_prefix: str = ""


def contact_columns() -> set[str]:
    return {f"{role.value}_{f}" for role in ContactRole for f in CONTACT_FIELDS}


def read_unit_list(path: Path) -> list[Located]:
    """Read and validate every row; raise InputError listing every bad row and field."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
    elif suffix in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path)
    else:
        raise InputError([Problem(str(path), None, "", "expected a .csv or .xlsx unit list")])
    return _validate_rows(path, rows)


def _validate_rows(path: Path, rows: Iterator[tuple[int, dict[str, str]]]) -> list[Located]:
    located: list[Located] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if len(located) + len(problems) > MAX_ROWS:
            problems.append(Problem(str(path), line, "", f"more than {MAX_ROWS} rows"))
            break
        try:
            spec = UnitSpec.model_validate(row_to_unit(row))
        except ValidationError as exc:
            problems += from_validation_error(
                exc, str(path), partial(_same_line, line), partial(_column_of, row=row)
            )
            continue
        if spec.code in seen:
            msg = f"duplicate unit code (first on line {seen[spec.code]})"
            problems.append(Problem(str(path), line, "code", msg))
        seen.setdefault(spec.code, line)
        located.append(Located(spec, str(path), line))
    if problems:
        raise InputError(problems)
    return located


def row_to_unit(row: dict[str, str]) -> dict[str, Any]:
    """Flat columns -> the UnitSpec shape (contacts grouped by role, empty cells dropped)."""
    unit: dict[str, Any] = {k: v for k, v in row.items() if k in UNIT_COLUMNS and v != ""}
    contacts = []
    for role in ContactRole:
        fields = {f: row.get(f"{role.value}_{f}", "") for f in CONTACT_FIELDS}
        if any(fields.values()):
            contacts.append({"role": role.value} | {k: v for k, v in fields.items() if v})
    unit["contacts"] = contacts
    return unit


def _same_line(line: int, _loc: Path_) -> int:
    return line


def _column_of(loc: Path_, row: dict[str, str]) -> str:
    """Map a UnitSpec location back to the column the office sees."""
    if len(loc) >= 2 and loc[0] == "contacts" and isinstance(loc[1], int):
        roles = [
            r.value for r in ContactRole if any(row.get(f"{r.value}_{f}") for f in CONTACT_FIELDS)
        ]
        role = roles[loc[1]] if loc[1] < len(roles) else "contact"
        return f"{role}_{loc[2]}" if len(loc) > 2 else f"{role} contact"
    return str(loc[0]) if loc else ""


def _normalise_header(cells: list[str], path: Path) -> list[str]:
    names = [unicodedata.normalize("NFC", c).strip().lower() for c in cells]
    header = [ALIASES.get(name, name) for name in names]
    known = set(UNIT_COLUMNS) | contact_columns()
    problems = [Problem(str(path), 1, h, "unknown column") for h in header if h and h not in known]
    missing = [c for c in ("code", "name", "kind") if c not in header]
    problems += [Problem(str(path), 1, c, "required column is missing") for c in missing]
    dups = {h for h in header if h and header.count(h) > 1}
    problems += [Problem(str(path), 1, h, "column appears twice") for h in sorted(dups)]
    if problems:
        raise InputError(problems)
    return header


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = _normalise_header(next(reader), path)
    except StopIteration:
        raise InputError([Problem(str(path), 1, "", "the file is empty")]) from None
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            msg = f"{len(cells)} cells for {len(header)} columns (a comma inside a value?)"
            raise InputError([Problem(str(path), reader.line_num, "", msg)])
        yield reader.line_num, {h: c.strip() for h, c in zip(header, cells, strict=False) if h}


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InputError(
            [Problem(str(path), None, "", f"not a readable XLSX file ({exc})")]
        ) from exc
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise InputError([Problem(str(path), 1, "", "the first sheet is empty")])
        header = _normalise_header([_cell_text(c) for c in first], path)
        for number, cells in enumerate(rows, start=2):
            texts = [_cell_text(c) for c in cells]
            if any(texts):
                yield number, {h: t for h, t in zip(header, texts, strict=False) if h}
    finally:
        book.close()
