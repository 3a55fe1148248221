"""The consolidation workbook: submission status, the figures (one row per unit, then totals,
rates and counts; values that break a rule in red with the reason as a comment), the missing
units, the targets, and the breakdowns by sector and group. Set up to print on A4 landscape.

Figures stay numbers, so the office can add, sort and filter them, formatted `[$-42A]#,##0`.
An XLSX file cannot carry the separators themselves: Excel shows those of the computer's
regional settings (vi-VN: 13.800.000, en-US: 13,800,000), and the vi-VN locale tag [$-42A]
makes LibreOffice show 13.800.000 whatever its settings. Figures written as text would look
right everywhere but could no longer be added up; the DOCX draft carries them as text."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from dondoc.reports.model import ReportInput, local_time, ordered_rows
from dondoc.reports.stable import stable_zip
from dondoc.reports.texts import DIRECTION_VI, MET_VI, sector_vi
from dondoc.rules.aggregate import (
    COUNT_RULES,
    NONE,
    Flag,
    IndicatorRuleLike,
    IndicatorTotal,
    UnitFigures,
    aggregate,
)
from dondoc.rules.deadlines import format_date_line
from dondoc.rules.status import STATUS_LABELS_VI

Cell = str | int | Decimal | datetime | None

WHOLE = "[$-42A]#,##0"
DECIMAL = "[$-42A]#,##0.00"
DATETIME = "DD/MM/YYYY HH:MM"
HEADER_ROW = 3  # rows 1-2: title and subtitle
_THIN = Side(style="thin", color="808080")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
_FLAG_FILL = PatternFill("solid", fgColor="F4CCCC")
_BOLD = Font(name="Times New Roman", size=11, bold=True)
_PLAIN = Font(name="Times New Roman", size=11)
_WRAP = Alignment(wrap_text=True, vertical="top")
_HEAD = Alignment(wrap_text=True, horizontal="center", vertical="center")
_VERDICT_COLOURS: dict[bool | None, str] = {True: "006100", False: "9C0006"}  # green, red


def build_workbook(report: ReportInput) -> bytes:
    book = Workbook()
    book.remove(book.active)
    _status_sheet(book.create_sheet("Tình hình nộp"), report)
    _figures_sheet(book.create_sheet("Số liệu"), report)
    _missing_sheet(book.create_sheet("Chưa nộp"), report)
    _targets_sheet(book.create_sheet("Chỉ tiêu"), report)
    _breakdown_sheet(book.create_sheet("Theo loại hình, nhóm"), report)
    moment = report.fixed_moment.replace(tzinfo=None)
    book.properties.creator = book.properties.lastModifiedBy = "dondoc"
    book.properties.created = book.properties.modified = moment
    book.properties.title = f"{report.title} {report.summary}"
    out = io.BytesIO()
    # ExcelWriter, not Workbook.save: save() stamps the properties with the current time.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).write_data()
    return stable_zip(out.getvalue(), report.fixed_moment)


def _status_sheet(ws: Worksheet, report: ReportInput) -> None:
    headers = ["STT", "Mã đơn vị", "Tên đơn vị", "Nhóm báo cáo", "Thời điểm nộp", "Tình trạng"]
    headers.append("Phiên bản")
    rows: list[list[Cell]] = [
        [n, r.unit_code, r.unit_name, r.group, local_time(r.submitted_at, report.tz),
         STATUS_LABELS_VI[r.status], r.version]
        for n, r in enumerate(ordered_rows(report.status_rows), 1)
    ]  # fmt: skip
    _table(ws, report, "TÌNH HÌNH NỘP BÁO CÁO", headers, rows)
    _widths(ws, [6, 14, 40, 28, 18, 22, 10])


def _missing_sheet(ws: Worksheet, report: ReportInput) -> None:
    rows: list[list[Cell]] = [
        [n, r.unit_code, r.unit_name, r.group, STATUS_LABELS_VI[r.status]]
        for n, r in enumerate(ordered_rows(report.missing_units), 1)
    ]
    headers = ["STT", "Mã đơn vị", "Tên đơn vị", "Nhóm báo cáo", "Tình trạng"]
    _table(ws, report, "CÁC ĐƠN VỊ CHƯA NỘP BÁO CÁO", headers, rows)
    _widths(ws, [6, 14, 44, 28, 24])


def _targets_sheet(ws: Worksheet, report: ReportInput) -> None:
    headers = ["STT", "Mã", "Nội dung chỉ tiêu", "Đơn vị tính", "Yêu cầu", "Chỉ tiêu", "Kết quả"]
    headers += ["Tỷ lệ đạt (%)", "Đánh giá"]
    rows: list[list[Cell]] = [
        [n, t.code, t.label, t.unit, DIRECTION_VI.get(t.direction, t.direction), t.target,
         t.result, t.achieved_pct, MET_VI[t.met]]
        for n, t in enumerate(report.aggregate.targets, 1)
    ]  # fmt: skip
    _table(ws, report, "KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU", headers, rows)
    _widths(ws, [6, 8, 60, 16, 9, 12, 12, 12, 16])
    for n, target in enumerate(report.aggregate.targets, HEADER_ROW + 1):
        color = _VERDICT_COLOURS.get(target.met)
        ws.cell(n, 9).font = Font(name="Times New Roman", size=11, bold=True, color=color)


def _figures_sheet(ws: Worksheet, report: ReportInput) -> None:
    rules = list(report.indicators)
    headers = ["STT", "Mã đơn vị", "Tên đơn vị", "Nhóm báo cáo", "Loại hình"]
    units = sorted(report.units, key=lambda u: (u.group, u.unit_code))
    rows = [_unit_row(n, u, rules) for n, u in enumerate(units, 1)]
    _table(ws, report, "SỐ LIỆU TỔNG HỢP", [*headers, *map(_header, rules), "Ghi chú"], rows)
    _mark_flags(ws, units, rules, report.aggregate.flags)
    totals = report.aggregate.totals
    summary: list[tuple[str, list[Cell]]] = [
        ("Tổng cộng", [_total_cell(totals.get(r.key), "total") for r in rules]),
        ("Tỷ lệ đơn vị đạt (%)", [_total_cell(totals.get(r.key), "share") for r in rules]),
        ("Số đơn vị có số liệu", [_total_cell(totals.get(r.key), "reporting") for r in rules]),
        ("Số đơn vị thiếu số liệu", [_total_cell(totals.get(r.key), "missing") for r in rules]),
    ]
    first = HEADER_ROW + len(rows) + 1
    for offset, (label, cells) in enumerate(summary):
        _write_row(ws, first + offset, [None, None, label, None, None, *cells, None], bold=True)
    _widths(ws, [6, 14, 36, 18, 18, *[14] * len(rules), 16])
    ws.row_dimensions[HEADER_ROW].height = 96
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 4)


def _breakdown_sheet(ws: Worksheet, report: ReportInput) -> None:
    rules = [r for r in report.indicators if r.aggregate != NONE]
    parts = [("Loại hình", sector_vi(b.name), b.totals) for b in report.aggregate.by_sector]
    parts += [("Nhóm báo cáo", b.name, b.totals) for b in report.aggregate.by_group]
    rows: list[list[Cell]] = [
        [by, name, *[_total_cell(totals.get(r.key), "share_or_total") for r in rules]]
        for by, name, totals in parts
    ]
    headers = [_header(r, share=r.aggregate in COUNT_RULES) for r in rules]
    _table(ws, report, "SỐ LIỆU THEO LOẠI HÌNH VÀ NHÓM", ["Phân tổ", "Tên", *headers], rows)
    _widths(ws, [16, 36, *[14] * len(rules)])
    ws.row_dimensions[HEADER_ROW].height = 96


def _unit_row(n: int, unit: UnitFigures, rules: Sequence[IndicatorRuleLike]) -> list[Cell]:
    own = aggregate(rules, [], [unit]).totals if unit.counted else {}
    cells: list[Cell] = []
    for rule in rules:
        if not unit.counted:
            cells.append(None)
        elif rule.type == "derived":
            total = own.get(rule.key)
            cells.append(total.value if total else None)
        else:
            cells.append(_entered(rule, unit.values.get(rule.key)))
    note = None if unit.counted else ("Miễn nộp" if unit.exempt else "Chưa nộp")
    return [n, unit.unit_code, unit.unit_name, unit.group, _sector(unit), *cells, note]


def _entered(rule: IndicatorRuleLike, value: Decimal | str | None) -> Cell:
    if rule.type == "boolean" and value in (Decimal(0), Decimal(1)):
        return "Có" if value == 1 else "Không"
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _total_cell(total: IndicatorTotal | None, what: str) -> Cell:
    if total is None:
        return None
    counted = total.rule in COUNT_RULES
    if what == "reporting":
        return total.reporting
    if what == "missing":
        return total.missing
    if what == "share":
        return total.value if counted else None
    if what == "share_or_total":
        return total.value
    return total.count if counted else total.value


def _mark_flags(
    ws: Worksheet,
    units: Sequence[UnitFigures],
    rules: Sequence[IndicatorRuleLike],
    flags: list[Flag],
) -> None:
    rows = {u.unit_code: HEADER_ROW + n for n, u in enumerate(units, 1)}
    columns = {r.key: 6 + n for n, r in enumerate(rules)}
    for flag in flags:
        if flag.unit_code in rows and flag.key in columns:
            cell = ws.cell(rows[flag.unit_code], columns[flag.key])
            cell.fill = _FLAG_FILL
            cell.comment = Comment(flag.message_vi, "dondoc", width=320, height=90)


def _table(
    ws: Worksheet, report: ReportInput, title: str, headers: list[str], rows: list[list[Cell]]
) -> None:
    ws.cell(1, 1, title).font = Font(name="Times New Roman", size=14, bold=True)
    subtitle = (
        f"{report.issuer} – {report.summary} – {format_date_line(report.place, report.report_date)}"
    )
    ws.cell(2, 1, subtitle).font = Font(name="Times New Roman", size=11, italic=True)
    for col, header in enumerate(headers, 1):
        cell = ws.cell(HEADER_ROW, col, header)
        cell.font, cell.fill, cell.alignment, cell.border = _BOLD, _HEADER_FILL, _HEAD, _BOX
    for n, row in enumerate(rows, HEADER_ROW + 1):
        _write_row(ws, n, row)
    _print_setup(ws, len(headers))


def _write_row(ws: Worksheet, row: int, cells: list[Cell], *, bold: bool = False) -> None:
    for col, value in enumerate(cells, 1):
        cell = ws.cell(row, col)
        if isinstance(value, str):
            cell.value, cell.data_type = value, "s"  # never a formula, whatever it starts with
        else:
            cell.value = value
        cell.font, cell.alignment, cell.border = (_BOLD if bold else _PLAIN), _WRAP, _BOX
        if isinstance(value, datetime):
            cell.number_format = DATETIME
        elif isinstance(value, int):
            cell.number_format = WHOLE
        elif isinstance(value, Decimal):
            cell.number_format = WHOLE if value == value.to_integral_value() else DECIMAL


def _print_setup(ws: Worksheet, columns: int) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as needed
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "Trang &P/&N"
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 1)
    ws.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(columns)}{max(ws.max_row, HEADER_ROW)}"


def _widths(ws: Worksheet, widths: Sequence[int]) -> None:
    for n, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(n)].width = width


def _header(rule: IndicatorRuleLike, *, share: bool = False) -> str:
    unit = "% đơn vị" if share else rule.unit
    return f"{rule.label} ({unit})" if unit else rule.label


def _sector(unit: UnitFigures) -> str | None:
    return sector_vi(unit.sector) if unit.sector else None
