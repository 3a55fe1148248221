"""`dondoc units import`: the example unit list as CSV and as XLSX, re-imports, Vietnamese
headers, and every refusal (file, line and column named; the database left unchanged)."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, SQLModel, col, select

from dondoc.errors import InputError, Problem
from dondoc.plans.unitimport import import_units
from dondoc.plans.unitlist import read_unit_list
from dondoc.plans.unitstore import UnitWriteResult
from models import AuditEvent, Contact, Unit
from tests.support.files import EXAMPLES, UNITS, line_containing, replace_once

NOW = datetime(2015, 11, 2, 1, 0, tzinfo=UTC)
EXAMPLE = EXAMPLES / UNITS
MOBILE = re.compile(r"^84[35789]\d{8}$")


def import_file(engine: Engine, path: Path) -> UnitWriteResult:
    with Session(engine) as session:
        result = import_units(session, path, now=NOW, actor="test")
        session.commit()
        return result


def refused(engine: Engine, path: Path) -> list[Problem]:
    """Import a bad file, then commit the session anyway: the import must have left nothing."""
    with Session(engine) as session:
        with pytest.raises(InputError) as err:
            import_units(session, path, now=NOW, actor="test")
        session.commit()
    return err.value.problems


def row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in SQLModel.metadata.sorted_tables
        }


def snapshot(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """Every unit with its parent's code and its contacts, as plain values."""
    parent = aliased(Unit)
    with Session(engine) as s:
        contacts: dict[int | None, list[tuple[Any, ...]]] = defaultdict(list)
        for c in s.exec(select(Contact)):
            contacts[c.unit_id].append(
                (c.role, c.name, c.email, c.zalo_phone, c.consent_email, c.consent_zalo)
            )
        rows = s.exec(
            select(Unit, parent.code).outerjoin(parent, col(Unit.parent_id) == parent.id)
        ).all()
        return {
            u.code: (
                *(u.name, u.short_name, u.kind, p, u.sector, u.ward, u.calendar),
                *(u.valid_from, u.valid_to, sorted(contacts[u.id])),
            )
            for u, p in rows
        }


def contact(engine: Engine, code: str, role: str) -> Contact | None:
    with Session(engine) as s:
        return s.exec(
            select(Contact).join(Unit).where(Unit.code == code, Contact.role == role)
        ).one_or_none()


def example_rows() -> list[list[str]]:
    with EXAMPLE.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def _xlsx_cell(column: str, text: str, row: int) -> Any:
    """As a spreadsheet keeps it: every other row's phones typed as numbers (the leading 0
    lost), dates as real dates."""
    if text == "":
        return None
    if column.endswith("_zalo") and row % 2 == 0:
        return int(re.sub(r"\D", "", text))
    if column in ("valid_from", "valid_to"):
        day, month, year = map(int, text.split("/"))
        return date(year, month, day)
    return text


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    book = Workbook()
    sheet = book.active
    header, *data = rows
    sheet.append(header)
    for number, cells in enumerate(data, start=2):
        sheet.append([_xlsx_cell(h, c, number) for h, c in zip(header, cells, strict=True)])
    book.save(path)
    return path


def test_it_imports_the_example_units_with_parents(engine: Engine) -> None:
    assert import_file(engine, EXAMPLE) == UnitWriteResult(created=68, updated=0)
    units = snapshot(engine)
    assert len(units) == 68
    parents = {code: row[3] for code, row in units.items()}
    assert [code for code, p in parents.items() if p is None] == ["LDLD-HCM"]
    assert (parents["LDLD-Q1"], parents["LDLD-Q1-UBKT"], parents["Q1-CD001"]) == (
        "LDLD-HCM",
        "LDLD-Q1",
        "LDLD-Q1",
    )
    assert units["Q1-CD001"][:7] == (
        "CĐCS Ủy ban nhân dân phường Bến Nghé",
        "UBND P. Bến Nghé",
        "grassroots_union",
        "LDLD-Q1",
        "administrative",
        "Phường Bến Nghé",
        "mon_fri",
    )
    assert units["Q1-CD039"][6] == "mon_sat"
    assert units["Q1-CD047"][7:9] == (None, date(2015, 12, 31))
    assert units["Q1-CD054"][7:9] == (date(2014, 6, 10), None)
    with Session(engine) as s:
        event = s.exec(select(AuditEvent)).one()
        assert (event.at, event.actor, event.action) == (NOW, "test", "units.imported")
        assert event.details == {"file": UNITS, "created": 68, "updated": 0}


PHONES = [  # (unit, role, as written in the file, as stored)
    ("LDLD-HCM", "chair", "0900001101", "84900001101"),
    ("LDLD-HCM", "office", "0900 001 301", "84900001301"),
    ("LDLD-Q1", "chair", "+84 900 001 102", "84900001102"),
    ("Q1-CD055", "secretary", "0900 000 255", "84900000255"),
]
CONSENTS = [  # (unit, role, email, consent to email, consent to Zalo)
    ("LDLD-Q1", "chair", "chutich.ldld-q1@example.invalid", True, True),
    ("LDLD-Q1-UBKT", "chair", "chunhiem.ldld-q1-ubkt@example.invalid", True, False),
    ("Q1-CD055", "chair", None, False, True),
    ("Q1-CD008", "secretary", "thuky.q1-cd008@example.invalid", False, False),
]


def test_it_stores_contacts_with_normalised_phones_and_consent(engine: Engine) -> None:
    import_file(engine, EXAMPLE)
    with Session(engine) as s:
        phones = [c.zalo_phone for c in s.exec(select(Contact))]
    assert len(phones) == 132
    assert [p for p in phones if p is not None and not MOBILE.match(p)] == []
    for code, role, _written, stored in PHONES:
        found = contact(engine, code, role)
        assert found is not None and found.zalo_phone == stored, (code, role)
    for code, role, email, by_email, by_zalo in CONSENTS:
        found = contact(engine, code, role)
        assert found is not None, (code, role)
        assert (found.email, found.consent_email, found.consent_zalo) == (email, by_email, by_zalo)
    assert contact(engine, "LDLD-HCM", "secretary") is None  # all four cells empty


def test_importing_again_updates_and_creates_nothing(engine: Engine) -> None:
    import_file(engine, EXAMPLE)
    before, units = row_counts(engine), snapshot(engine)
    assert import_file(engine, EXAMPLE) == UnitWriteResult(created=0, updated=68)
    after = row_counts(engine)
    assert after.pop("audit_event") == before.pop("audit_event") + 1
    assert after == before
    assert snapshot(engine) == units


def test_importing_a_changed_list_applies_the_changes(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, EXAMPLE)
    path = write_csv(tmp_path / UNITS, example_rows())
    replace_once(path, "CĐCS Ủy ban nhân dân phường Bến Nghé,", "CĐCS UBND phường Bến Nghé,")
    replace_once(path, "Bến Thành,grassroots_union,LDLD-Q1,", "Bến Thành,grassroots_union,LDLD-Q3,")
    replace_once(path, "0900 000 102,email+zalo", "0900 000 102,email")
    before = row_counts(engine)
    assert import_file(engine, path) == UnitWriteResult(created=0, updated=68)
    units = snapshot(engine)
    assert units["Q1-CD001"][0] == "CĐCS UBND phường Bến Nghé"
    assert units["Q1-CD002"][3] == "LDLD-Q3"
    chair = contact(engine, "Q1-CD002", "chair")
    assert chair is not None and (chair.consent_email, chair.consent_zalo) == (True, False)
    assert row_counts(engine)["unit"] == before["unit"]


def test_a_contact_role_removed_from_the_file_is_removed(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, EXAMPLE)
    assert contact(engine, "Q1-CD011", "office") is not None
    rows = example_rows()
    header = rows[0]
    office = [i for i, h in enumerate(header) if h.startswith("office_")]
    for cells in rows[1:]:
        if cells[0] == "Q1-CD011":
            for i in office:
                cells[i] = ""
    import_file(engine, write_csv(tmp_path / UNITS, rows))
    assert contact(engine, "Q1-CD011", "office") is None
    assert contact(engine, "Q1-CD011", "chair") is not None
    assert contact(engine, "LDLD-HCM", "office") is not None  # other units keep theirs
    assert row_counts(engine)["contact"] == 131


def test_the_same_list_as_xlsx_imports_identically(engine: Engine, tmp_path: Path) -> None:
    xlsx = write_xlsx(tmp_path / "units-q1.xlsx", example_rows())
    cells = {row[0]: row for row in load_workbook(xlsx).worksheets[0].iter_rows(values_only=True)}
    header = cells["code"]
    assert cells["LDLD-HCM"][header.index("chair_zalo")] == 900001101  # the leading 0 is gone
    assert isinstance(cells["Q1-CD047"][header.index("valid_to")], datetime)

    def read(path: Path) -> list[tuple[Any, int | None]]:
        return [(item.spec, item.line) for item in read_unit_list(path)]

    assert read(xlsx) == read(EXAMPLE)
    assert import_file(engine, xlsx) == UnitWriteResult(created=68, updated=0)
    from_xlsx = snapshot(engine)
    assert import_file(engine, EXAMPLE) == UnitWriteResult(created=0, updated=68)
    assert snapshot(engine) == from_xlsx


HEADERS = {
    "as offices write them": {
        "code": "Mã đơn vị",
        "name": "Tên đơn vị",
        "kind": "Loại",
        "parent": "Đơn vị cấp trên",
    },
    "capitals and spaces": {
        "code": " MÃ ĐƠN VỊ ",
        "name": "Tên Đơn Vị",
        "kind": "LOẠI",
        "parent": "Đơn Vị Cấp Trên",
    },
    "every alias": {
        "code": "Mã",
        "name": "Tên đơn vị",
        "short_name": "Tên viết tắt",
        "kind": "Loại",
        "parent": "Đơn vị cấp trên",
        "sector": "Khu vực",
        "ward": "Phường",
        "calendar": "Lịch làm việc",
    },
}


@pytest.mark.parametrize("names", HEADERS.values(), ids=HEADERS.keys())
def test_vietnamese_headers_are_understood(
    engine: Engine, tmp_path: Path, names: dict[str, str]
) -> None:
    rows = example_rows()
    rows[0] = [names.get(h, h) for h in rows[0]]
    assert import_file(engine, write_csv(tmp_path / UNITS, rows)).created == 68
    with_aliases = snapshot(engine)
    assert import_file(engine, EXAMPLE) == UnitWriteResult(created=0, updated=68)
    assert snapshot(engine) == with_aliases


def test_a_short_list_can_name_a_parent_already_in_the_database(
    engine: Engine, tmp_path: Path
) -> None:
    import_file(engine, EXAMPLE)
    before = snapshot(engine)
    rows = [
        ["code", "name", "kind", "parent"],
        ["Q1-CD057", "CĐCS mới", "grassroots_union", "LDLD-Q1"],
    ]
    assert import_file(engine, write_csv(tmp_path / "new.csv", rows)).created == 1
    after = snapshot(engine)
    assert after.pop("Q1-CD057")[3] == "LDLD-Q1"
    assert after == before  # units the file does not list are left alone


def test_a_loop_through_units_in_the_database_is_refused(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, EXAMPLE)
    rows = [["code", "name", "kind", "parent"], ["LDLD-HCM", "LĐLĐ TP", "federation", "Q1-CD001"]]
    before = snapshot(engine)
    problems = refused(engine, write_csv(tmp_path / "loop.csv", rows))
    assert [(p.line, p.field, p.message) for p in problems] == [
        (2, "parent", "the parent chain loops back")
    ]
    assert snapshot(engine) == before


# --- every refusal of a row or a header: (old text, new text, column named, words) ----------

FIRST_CD007 = line_containing(EXAMPLE, "Q1-CD007,")
HCM = "LDLD-HCM,Liên đoàn Lao động Thành phố Hồ Chí Minh,LĐLĐ TP.HCM,federation,"
BAD_ROWS: dict[str, tuple[str, str, str, str]] = {
    "unknown column": ("short_name,", "ten_goi_khac,", "ten_goi_khac", "unknown column"),
    "missing required column": (",kind,", ",loai_dv,", "kind", "required column is missing"),
    "bad email": (
        "chutich.q1-cd007@example.invalid",
        "chutich.q1-cd007@",
        "chair_email",
        "not an email address",
    ),
    "bad Zalo phone (a landline)": (
        "+84 900 000 107",
        "028 3829 1234",
        "chair_zalo",
        "not a Vietnamese mobile number",
    ),
    "consent to email with no email": (
        ",chutich.q1-cd007@example.invalid,",
        ",,",
        "chair",
        "consent to email given but no email address",
    ),
    "consent to Zalo with no number": (
        ",+84 900 000 107,",
        ",,",
        "chair",
        "consent to Zalo given but no Zalo number",
    ),
    "duplicate code": (
        "Q1-CD008,",
        "Q1-CD007,",
        "code",
        f"duplicate unit code (first on line {FIRST_CD007})",
    ),
    "unknown kind": (",grassroots_union,LDLD-Q1,", ",cdcs,LDLD-Q1,", "kind", "Input should be"),
    "unknown parent": (
        ",grassroots_union,LDLD-Q1,",
        ",grassroots_union,LDLD-Q9,",
        "parent",
        "unknown unit code 'LDLD-Q9'",
    ),
    "parent cycle": (HCM + ",", HCM + "LDLD-Q1,", "parent", "the parent chain loops back"),
    "its own parent": (
        "UBND P. Bến Nghé,grassroots_union,LDLD-Q1,",
        "UBND P. Bến Nghé,grassroots_union,Q1-CD001,",
        "parent",
        "a unit cannot be its own parent",
    ),
    "impossible date": ("31/12/2015", "31/13/2015", "valid_to", "no such day as 31/13/2015"),
    "valid_to before valid_from": (
        ",Phường Phạm Ngũ Lão,,,31/12/2015,",
        ",Phường Phạm Ngũ Lão,,01/01/2016,31/12/2015,",
        "valid_to",
        "valid_to is before valid_from",
    ),
    "a comma inside a value": (
        "UBND P. Bến Nghé,",
        "UBND P. Bến, Nghé,",
        "",
        "23 cells for 22 columns",
    ),
}


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_bad_row_or_header_is_refused_with_file_line_and_column(
    engine: Engine, tmp_path: Path, case: tuple[str, str, str, str]
) -> None:
    old, new, column, words = case
    path = write_csv(tmp_path / UNITS, example_rows())
    line = replace_once(path, old, new)
    before = row_counts(engine)
    problems = refused(engine, path)
    # The column is named in what the office reads: the field, or the message for checks
    # that involve two columns.
    found = [p for p in problems if p.line == line and words in p.message]
    assert found, "\n".join(map(str, problems))
    assert column in f"{found[0].field}: {found[0].message}"
    assert found[0].file == str(path)
    assert row_counts(engine) == before


def _empty_workbook() -> bytes:
    out = BytesIO()
    Workbook().save(out)
    return out.getvalue()


def _not_utf8() -> bytes:
    return EXAMPLE.read_bytes().replace("Bến Nghé".encode(), b"B\xe9n Ngh\xe9", 1)


# (file name, its bytes, line named, words)
BAD_FILES: dict[str, tuple[str, Callable[[], bytes], int | None, str]] = {
    "a CSV that is not UTF-8": (
        UNITS,
        _not_utf8,
        line_containing(EXAMPLE, "Bến Nghé"),
        "not UTF-8",
    ),
    "an empty CSV": (UNITS, lambda: b"", 1, "the file is empty"),
    "an XLSX that is not a zip": (
        "units.xlsx",
        lambda: b"\x00\x01garbage, not a workbook",
        None,
        "not a readable XLSX file",
    ),
    "an XLSX with an empty sheet": ("units.xlsx", _empty_workbook, 1, "the first sheet is empty"),
    "a text file": ("units.txt", EXAMPLE.read_bytes, None, "expected a .csv or .xlsx"),
}


@pytest.mark.parametrize("case", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_refused_with_a_clear_error(
    engine: Engine, tmp_path: Path, case: tuple[str, Callable[[], bytes], int | None, str]
) -> None:
    name, content, line, words = case
    path = tmp_path / name
    path.write_bytes(content())
    before = row_counts(engine)
    problems = refused(engine, path)
    assert [(p.file, p.line) for p in problems] == [(str(path), line)]
    assert words in problems[0].message
    assert row_counts(engine) == before
