"""The status table and the figures as spreadsheets: XLSX (a status sheet and a figures sheet)
and CSV (UTF-8 with a BOM, which is how Excel recognises Vietnamese text in a CSV file)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from dondoc.dashboard import UnitFilter, unit_rows
from dondoc.labels import CHANNEL_LABELS_VI, SECTOR_LABELS_VI
from dondoc.rules.status import REVIEW_LABELS_VI, STATUS_LABELS_VI, ReviewState
from dondoc.statusquery import TableRow, status_table
from models import Campaign, IndicatorDefinition, IndicatorValue, Requirement
from models.enums import IndicatorType

Cell = str | int | Decimal | datetime | None

STATUS_HEADERS = [
    "STT",
    "Mã đơn vị",
    "Tên đơn vị",
    "Nhóm báo cáo",
    "Loại hình",
    "Phường",
    "Trạng thái",
    "Hạn nộp",
    "Được gia hạn",
    "Số lần nộp",
    "Lần nộp gần nhất",
    "Hình thức nộp",
    "Xem xét",
]
FIGURE_HEADERS = ["STT", "Mã đơn vị", "Tên đơn vị", "Nhóm báo cáo", "Trạng thái", "Phiên bản"]
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"


@dataclass(frozen=True)
class Sheet:
    title: str
    headers: list[str]
    rows: list[list[Cell]]  # datetimes are naive local times


def status_sheet(
    session: Session, campaign: Campaign, *, now: datetime, tz: ZoneInfo, filters: UnitFilter
) -> Sheet:
    rows = unit_rows(session, campaign, now=now, filters=filters)
    return Sheet(
        "Trạng thái", STATUS_HEADERS, [_status_cells(n, r, tz) for n, r in enumerate(rows, 1)]
    )


def figures_sheet(
    session: Session, campaign: Campaign, *, now: datetime, tz: ZoneInfo, filters: UnitFilter
) -> Sheet:
    """One row per unit that reports figures, one column per entered indicator; the figures
    are those of the latest version received as of `now`."""
    with_figures = _requirements_with_figures(session, campaign)
    indicators = [
        i
        for i in session.exec(
            select(IndicatorDefinition)
            .where(IndicatorDefinition.campaign_id == campaign.id)
            .order_by(col(IndicatorDefinition.position), col(IndicatorDefinition.key))
        )
        if i.type != IndicatorType.DERIVED and any(i.key in keys for keys in with_figures.values())
    ]
    rows = [
        r
        for r in unit_rows(session, campaign, now=now, filters=filters)
        if r.requirement_code in with_figures
    ]
    values = _latest_values(session, campaign, now)
    headers = FIGURE_HEADERS + [_indicator_header(i) for i in indicators]
    cells = [
        [
            n,
            r.unit_code,
            r.unit_name,
            r.requirement_label,
            STATUS_LABELS_VI[r.status],
            r.last_version,
            *(_figure(i, values.get((r.submission_id, i.key))) for i in indicators),
        ]
        for n, r in enumerate(rows, 1)
    ]
    return Sheet("Số liệu", headers, cells)


def to_xlsx(sheets: Sequence[Sheet]) -> bytes:
    book = Workbook(write_only=True)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title)
        ws.freeze_panes = "A2"
        for n, header in enumerate(sheet.headers, 1):
            ws.column_dimensions[get_column_letter(n)].width = max(8, min(40, len(header) + 4))
        header_cells = []
        for header in sheet.headers:
            cell = WriteOnlyCell(ws, value=header)
            cell.font = Font(bold=True)
            header_cells.append(cell)
        ws.append(header_cells)
        for row in sheet.rows:
            ws.append([_xlsx_cell(ws, value) for value in row])
        ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.headers))}{len(sheet.rows) + 1}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_csv(sheet: Sheet) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(sheet.headers)
    writer.writerows([_csv_cell(value) for value in row] for row in sheet.rows)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _status_cells(n: int, r: TableRow, tz: ZoneInfo) -> list[Cell]:
    return [
        n,
        r.unit_code,
        r.unit_name,
        r.requirement_label,
        SECTOR_LABELS_VI.get(r.sector or "", r.sector),
        r.ward,
        STATUS_LABELS_VI[r.status],
        _deadline_local(r.due_at, tz),
        "Có" if r.extended else None,
        r.versions,
        r.last_received_at.astimezone(tz).replace(tzinfo=None) if r.last_received_at else None,
        CHANNEL_LABELS_VI.get(r.last_channel, r.last_channel) if r.last_channel else None,
        REVIEW_LABELS_VI[ReviewState(r.last_review_state)] if r.last_review_state else None,
    ]


def _deadline_local(due: datetime, tz: ZoneInfo) -> datetime:
    """The end of a day is stored as the next midnight; people read it as 23:59 of the day."""
    local = due.astimezone(tz).replace(tzinfo=None)
    return local - timedelta(minutes=1) if (local.hour, local.minute) == (0, 0) else local


def _requirements_with_figures(session: Session, campaign: Campaign) -> dict[str, list[str]]:
    requirements = session.exec(select(Requirement).where(Requirement.campaign_id == campaign.id))
    return {r.code: r.indicator_keys for r in requirements if r.indicator_keys}


def _latest_values(
    session: Session, campaign: Campaign, now: datetime
) -> dict[tuple[int | None, str], IndicatorValue]:
    latest = status_table(now, campaign.id)
    values = session.exec(
        select(IndicatorValue).join(latest, latest.c.submission_id == IndicatorValue.submission_id)
    )
    return {(v.submission_id, v.key): v for v in values}


def _indicator_header(i: IndicatorDefinition) -> str:
    return f"{i.label} ({i.unit})" if i.unit else i.label


def _figure(i: IndicatorDefinition, v: IndicatorValue | None) -> Cell:
    if v is None:
        return None
    if v.text_value is not None:
        return v.text_value
    if v.num_value is None:
        return None
    if i.type == IndicatorType.BOOLEAN:
        return "Có" if v.num_value else "Không"
    integral = v.num_value == v.num_value.to_integral_value()
    return int(v.num_value) if integral else v.num_value.normalize()


def _xlsx_cell(ws: object, value: Cell) -> object:
    if isinstance(value, str):
        cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"  # never a formula, whatever the text starts with
        return cell
    if isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = DATETIME_FORMAT
        return cell
    return value


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%d/%m/%Y %H:%M}"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet would run it as a formula
    return str(value)
