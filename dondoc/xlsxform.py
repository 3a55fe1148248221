"""A requirement's figures as an XLSX form: built pre-filled with one unit's name and code, read
back into raw figure strings for dondoc.rules.figures.

A very hidden sheet marks the form with its campaign, requirement and unit, so that an unrelated
workbook (or another unit's form) is refused instead of being read. Values are found by the
indicator key in a hidden column, not by row number, so inserted rows do not shift figures."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, Protection
from openpyxl.worksheet.datavalidation import DataValidation
from sqlmodel import Session, col, select

from dondoc.rules.deadlines import format_date_vi
from dondoc.uploads import CheckedFile, Kind, UploadError, check_file
from models import Campaign, IndicatorDefinition, Requirement, Unit

MARKER_SHEET = "dondoc"
MARKER_TAG = "dondoc-figures-form/1"
DATA_SHEET = "Số liệu"
HEADER = ("STT", "Chỉ tiêu", "Đơn vị tính", "Số liệu", "Mã")
VALUE_COL, KEY_COL = 4, 5  # D: what the unit fills in; E (hidden): the indicator key
# A form is a few kilobytes; anything that unpacks to more is not one (or is a ZIP bomb).
MAX_UNPACKED_BYTES = 10 * 1024 * 1024
MAX_ENTRIES = 200

MESSAGES: dict[str, tuple[str, str]] = {
    "not_xlsx": (
        "not a readable XLSX file",
        "Không đọc được tệp biểu mẫu số liệu. Vui lòng dùng biểu mẫu XLSX tải về từ trang này.",
    ),
    "not_form": (
        "not this requirement's figures form",
        "Tệp “{name}” không phải biểu mẫu số liệu của báo cáo này. Vui lòng tải biểu mẫu "
        "trên trang này, điền số liệu rồi gửi lại.",
    ),
    "other_unit": (
        "the form belongs to unit {unit_code}",
        "Biểu mẫu “{name}” là của đơn vị khác (mã {unit_code}). Vui lòng tải biểu mẫu của đơn vị "
        "mình trên trang này.",
    ),
}


class FormError(UploadError):
    """An uploaded workbook that is not this unit's form for this requirement."""

    messages = MESSAGES


@dataclass(frozen=True)
class FormIdentity:
    campaign_code: str
    requirement_code: str
    unit_code: str


def form_fields(
    session: Session, requirement: Requirement, unit: Unit
) -> list[IndicatorDefinition]:
    """The figures a unit enters for a requirement, in plan order: derived figures are
    computed, and figures for other sectors do not apply to it."""
    if not requirement.indicator_keys:
        return []
    rows = session.exec(
        select(IndicatorDefinition)
        .where(
            IndicatorDefinition.campaign_id == requirement.campaign_id,
            col(IndicatorDefinition.key).in_(requirement.indicator_keys),
        )
        .order_by(col(IndicatorDefinition.position))
    )
    return [
        d
        for d in rows
        if d.type != "derived" and (not d.sectors or (unit.sector or "") in d.sectors)
    ]


def build_form(
    *,
    campaign: Campaign,
    requirement: Requirement,
    unit: Unit,
    fields: Sequence[IndicatorDefinition],
) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = DATA_SHEET
    first = _write_heading(sheet, campaign, requirement, unit)
    for n, definition in enumerate(fields, start=1):
        _write_field(sheet, first + n, n, definition)
    sheet.column_dimensions["B"].width = 60
    sheet.column_dimensions["C"].width = 14
    sheet.column_dimensions["D"].width = 18
    sheet.column_dimensions["E"].hidden = True
    sheet.protection.sheet = True  # only the value cells are unlocked
    _write_marker(book, FormIdentity(campaign.code, requirement.code, unit.code))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _write_heading(sheet: Any, campaign: Campaign, requirement: Requirement, unit: Unit) -> int:
    lines: list[tuple[str, str | None]] = [
        ("BIỂU MẪU SỐ LIỆU", None),
        (f"Kèm theo Kế hoạch số {campaign.doc_number}: {campaign.title}", None),
        (requirement.title, None),
        ("Đơn vị:", unit.name),
        ("Mã đơn vị:", unit.code),
    ]
    if campaign.data_cutoff is not None:
        lines.append(("Số liệu tính đến ngày:", format_date_vi(campaign.data_cutoff)))
    lines.append(
        (
            "Hướng dẫn: chỉ điền vào cột “Số liệu”. Số viết theo kiểu Việt Nam "
            "(1.250 hoặc 12,5); câu hỏi Có/Không và xếp loại chọn trong danh sách.",
            None,
        )
    )
    for row, (text, value) in enumerate(lines, start=1):
        sheet.cell(row=row, column=1, value=text)
        if value is not None:
            sheet.cell(row=row, column=2, value=value).font = Font(bold=True)
    sheet["A1"].font = Font(bold=True, size=13)
    header_row = len(lines) + 2
    for column, title in enumerate(HEADER, start=1):
        sheet.cell(row=header_row, column=column, value=title).font = Font(bold=True)
    return header_row


def _write_field(sheet: Any, row: int, number: int, definition: IndicatorDefinition) -> None:
    sheet.cell(row=row, column=1, value=number)
    label = sheet.cell(row=row, column=2, value=definition.label)
    label.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.cell(row=row, column=3, value=definition.unit or "")
    value = sheet.cell(row=row, column=VALUE_COL)
    value.number_format = "@"  # text: "1.250" stays the Vietnamese one thousand two hundred fifty
    value.protection = Protection(locked=False)
    sheet.cell(row=row, column=KEY_COL, value=definition.key)
    choices = _choices(definition)
    if choices:
        listing = DataValidation(type="list", formula1='"' + ",".join(choices) + '"')
        listing.add(value)
        sheet.add_data_validation(listing)


def _choices(definition: IndicatorDefinition) -> list[str]:
    if definition.type == "boolean":
        return ["Có", "Không"]
    if definition.type == "choice":
        return list(definition.choices or [])
    return []


def _write_marker(book: Workbook, identity: FormIdentity) -> None:
    marker = book.create_sheet(MARKER_SHEET)
    marker.append([MARKER_TAG])
    marker.append([identity.campaign_code])
    marker.append([identity.requirement_code])
    marker.append([identity.unit_code])
    marker.sheet_state = "veryHidden"  # not even listed by Excel's "Unhide"


def read_upload(
    raw_name: str | None,
    stream: BinaryIO,
    *,
    max_bytes: int,
    expected: FormIdentity,
    keys: Collection[str],
) -> tuple[CheckedFile, dict[str, str]]:
    """A filled form as a unit uploads it: checked like any file, then read."""
    sheet = check_file(raw_name, stream, max_bytes=max_bytes)
    if sheet.kind is not Kind.XLSX:
        raise FormError("not_form", name=sheet.name)
    return sheet, read_form(sheet.stream, name=sheet.name, expected=expected, keys=keys)


def read_form(
    stream: BinaryIO, *, name: str, expected: FormIdentity, keys: Collection[str]
) -> dict[str, str]:
    """The figures entered in a form, as raw strings by key (empty cells left out)."""
    _check_package(stream)
    try:
        book = load_workbook(stream, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types on malformed files
        raise FormError("not_xlsx") from exc
    found = _identity(book)
    if found is None or (found.campaign_code, found.requirement_code) != (
        expected.campaign_code,
        expected.requirement_code,
    ):
        raise FormError("not_form", name=name)
    if found.unit_code != expected.unit_code:
        raise FormError("other_unit", name=name, unit_code=found.unit_code)
    if DATA_SHEET not in book.sheetnames:
        raise FormError("not_form", name=name)
    return _values(book[DATA_SHEET], keys)


def _check_package(stream: BinaryIO) -> None:
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as package:
            entries = package.infolist()
    except zipfile.BadZipFile as exc:
        raise FormError("not_xlsx") from exc
    finally:
        stream.seek(0)
    unpacked = sum(e.file_size for e in entries)
    if len(entries) > MAX_ENTRIES or unpacked > MAX_UNPACKED_BYTES:
        raise FormError("not_xlsx")


def _identity(book: Workbook) -> FormIdentity | None:
    if MARKER_SHEET not in book.sheetnames:
        return None
    cells = [row[0] for row in book[MARKER_SHEET].iter_rows(max_row=4, max_col=1, values_only=True)]
    if len(cells) < 4 or cells[0] != MARKER_TAG:
        return None
    return FormIdentity(str(cells[1]), str(cells[2]), str(cells[3]))


def _values(sheet: Any, keys: Collection[str]) -> dict[str, str]:
    raw: dict[str, str] = {}
    for row in sheet.iter_rows(min_col=VALUE_COL, max_col=KEY_COL, values_only=True):
        value, key = row[0], row[-1]
        if isinstance(key, str) and key in keys:
            text = cell_text(value)
            if text:
                raw[key] = text
    return raw


def cell_text(value: object) -> str:
    """A cell as the unit would have typed it on the page: Vietnamese number style."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite():
            return str(value)
        if number == number.to_integral_value():
            return str(int(number))
        return format(number.normalize(), "f").replace(".", ",")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()
