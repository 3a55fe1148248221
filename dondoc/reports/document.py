"""The first draft of the consolidated report, in the layout of Decree 30/2020/NĐ-CP (appendix I)
that union offices follow: A4, Times New Roman; the issuer block and the national motto side by
side, the place-date line, the document type and its summary, the outline's sections with what
each unit wrote, the targets table, Nơi nhận and the signature, then the annex (submission status,
figures, values left out)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import docx
from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.shared import Length, Mm, Pt, RGBColor

from dondoc.reports.docxkit import (
    add_paragraph,
    borderless,
    line,
    page_number,
    paginate,
    rule_below,
    set_widths,
    use_font,
)
from dondoc.reports.model import Contribution, ReportInput, ordered_rows
from dondoc.reports.stable import stable_zip
from dondoc.reports.texts import (
    MET_VI,
    amount,
    org_lines,
    recipient_lines,
    signer_lines,
    target_text,
    total_text,
)
from dondoc.rules.deadlines import format_date_line, format_date_vi
from dondoc.rules.status import STATUS_LABELS_VI

BODY = "Report Body"
# The text is 165 mm wide: A4 210 mm less the 30 mm left and 15 mm right margins.
HEADER_WIDTHS = (Mm(72), Mm(93))
SIGNATURE_WIDTHS = (Mm(85), Mm(80))


def build_document(report: ReportInput) -> bytes:
    document = docx.Document()
    _page_setup(document)
    _styles(document)
    _heading_block(document, report)
    _title(document, report)
    for heading, contributions in report.sections:
        _section(document, heading, contributions, targets=heading == report.targets_section)
        if heading == report.targets_section:
            _targets(document, report)
    placed = report.targets_section in [heading for heading, _ in report.sections]
    if report.aggregate.targets and not placed:
        add_paragraph(document, "KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU", "Heading 1")
        _targets(document, report)
    _signature(document, report)
    _annex(document, report)
    _properties(document, report)
    out = io.BytesIO()
    document.save(out)
    return stable_zip(out.getvalue(), report.fixed_moment)


def _page_setup(document: Document) -> None:
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    # Decree 30: page numbers centred at the top, from the second page on.
    section.different_first_page_header_footer = True
    page_number(section.header.paragraphs[0])


def _styles(document: Document) -> None:
    use_font(document)
    normal = document.styles["Normal"]
    normal.font.size = Pt(14)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.0
    for level in (1, 2, 3):
        heading = document.styles[f"Heading {level}"]
        heading.font.size, heading.font.bold = Pt(14), True
        heading.font.italic = level == 3
        heading.font.color.rgb = RGBColor(0, 0, 0)
        heading.paragraph_format.space_before = Pt(6)
        heading.paragraph_format.space_after = Pt(6)
        heading.paragraph_format.first_line_indent = Mm(10)
    body = document.styles.add_style(BODY, WD_STYLE_TYPE.PARAGRAPH)
    body.base_style = normal
    body.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    body.paragraph_format.first_line_indent = Mm(10)
    body.paragraph_format.space_after = Pt(6)
    body.paragraph_format.line_spacing = 1.15


def _heading_block(document: Document, report: ReportInput) -> None:
    """Issuer (parent body, issuer in bold, number) left; national motto and date line right.
    Sizes from Decree 30 within what fits: the motto line is 88 mm wide at 12 pt bold. A "\n"
    in the parent body or the issuer chooses where the line breaks."""
    table = document.add_table(rows=2, cols=2)
    borderless(table, HEADER_WIDTHS)
    left, right = table.cell(0, 0), table.cell(0, 1)
    parent, issuer = org_lines(report.parent_body), org_lines(report.issuer)
    for n, text in enumerate([*parent, *issuer]):
        paragraph = left.paragraphs[0] if n == 0 else left.add_paragraph()
        line(paragraph, text, size=13, bold=n >= len(parent))
    rule_below(left, Mm(24), HEADER_WIDTHS[0])
    line(right.paragraphs[0], "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", size=12, bold=True)
    motto = right.add_paragraph()
    line(motto, "Độc lập - Tự do - Hạnh phúc", size=13, bold=True)
    rule_below(right, Mm(56), HEADER_WIDTHS[1])  # as long as the motto
    number = table.cell(1, 0).paragraphs[0]
    line(number, f"Số: {report.number}", size=13)
    date_line = table.cell(1, 1).paragraphs[0]
    line(date_line, format_date_line(report.place, report.report_date), italic=True)
    for paragraph in (number, date_line):
        paragraph.paragraph_format.space_before = Pt(6)


def _title(document: Document, report: ReportInput) -> None:
    title = document.add_paragraph()
    line(title, report.title.upper(), bold=True)
    title.paragraph_format.space_before = Pt(18)
    summary = document.add_paragraph()
    line(summary, report.summary, bold=True)  # Decree 30: the summary in ordinary case, bold
    summary.paragraph_format.space_after = Pt(12)


def _section(
    document: Document, heading: str, contributions: Sequence[Contribution], *, targets: bool
) -> None:
    add_paragraph(document, heading, f"Heading {_level(heading)}")
    if not contributions and not targets:
        empty = add_paragraph(document, "", BODY).add_run("(Chưa có đơn vị nào viết mục này.)")
        empty.italic = True
    for unit_name, text in contributions:
        who = add_paragraph(document, "", BODY)
        name = who.add_run(f"{unit_name}:")
        name.bold = name.italic = True
        who.paragraph_format.keep_with_next = True
        for paragraph in (p.strip() for p in text.splitlines()):
            if paragraph:
                add_paragraph(document, paragraph, BODY)


def _level(heading: str) -> int:
    """'I.' -> 1, 'II.1.' -> 2, 'II.1.a' -> 3; a heading without numbering is a top one."""
    number = heading.split(" ", 1)[0].rstrip(".")
    if not number or not number[0].isalnum() or len(number) > 12:
        return 1
    return min(number.count(".") + 1, 3)


def _targets(document: Document, report: ReportInput) -> None:
    targets = report.aggregate.targets
    if not targets:
        add_paragraph(document, "(Kế hoạch không đặt chỉ tiêu.)", BODY)
        return
    headers = ["STT", "Chỉ tiêu", "Chỉ tiêu đề ra", "Kết quả", "Tỷ lệ đạt", "Đánh giá"]
    rows = [
        [str(n), f"{t.code}. {t.label}", target_text(t), amount(t.result, t.unit),
         amount(t.achieved_pct, "%"), MET_VI[t.met]]
        for n, t in enumerate(targets, 1)
    ]  # fmt: skip
    widths = (Mm(13), Mm(62), Mm(26), Mm(24), Mm(20), Mm(20))
    _grid(document, headers, rows, widths, numeric=(2, 3, 4))


def _signature(document: Document, report: ReportInput) -> None:
    document.add_paragraph().paragraph_format.space_after = Pt(12)
    table = document.add_table(rows=1, cols=2)
    borderless(table, SIGNATURE_WIDTHS)
    paginate(table, header=False)  # Nơi nhận and the signature stay on one page
    left, right = table.cell(0, 0), table.cell(0, 1)
    line(left.paragraphs[0], "Nơi nhận:", size=12, bold=True, italic=True, center=False)
    for recipient in recipient_lines(list(report.distribution)):
        line(left.add_paragraph(), recipient, size=11, center=False)
    titles = signer_lines(report.signer_title)
    line(right.paragraphs[0], titles[0] if titles else "", bold=True)
    for title in titles[1:]:
        line(right.add_paragraph(), title, bold=True)
    for _ in range(4):  # room for the signature and the seal
        right.add_paragraph()
    line(right.add_paragraph(), report.signer_name, bold=True)


def _annex(document: Document, report: ReportInput) -> None:
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    line(document.add_paragraph(), "PHỤ LỤC", bold=True)
    reference = f"(Kèm theo Báo cáo số {report.number} ngày {format_date_vi(report.report_date)})"
    line(document.add_paragraph(), reference, italic=True).font.size = Pt(13)
    add_paragraph(document, "1. Tình hình nộp báo cáo", "Heading 2")
    add_paragraph(document, report.counts().summary_vi(), BODY)
    missing = ordered_rows(report.missing_units)
    if missing:
        add_paragraph(document, "Các đơn vị chưa nộp:", BODY)
        rows = [
            [str(n), r.unit_code, r.unit_name, STATUS_LABELS_VI[r.status]]
            for n, r in enumerate(missing, 1)
        ]
        widths = (Mm(13), Mm(30), Mm(80), Mm(42))
        _grid(document, ["STT", "Mã đơn vị", "Tên đơn vị", "Tình trạng"], rows, widths)
    _annex_figures(document, report)


def _annex_figures(document: Document, report: ReportInput) -> None:
    add_paragraph(document, "2. Số liệu tổng hợp", "Heading 2")
    rows = [
        [str(n), t.label, total_text(t), f"{t.reporting}/{t.reporting + t.missing}"]
        for n, t in enumerate(report.aggregate.totals.values(), 1)
    ]
    headers = ["STT", "Nội dung", "Kết quả", "Đơn vị có số liệu"]
    _grid(document, headers, rows, (Mm(13), Mm(80), Mm(46), Mm(26)), numeric=(2, 3))
    flags = report.aggregate.flags
    if not flags:
        return
    add_paragraph(document, "3. Số liệu cần kiểm tra lại (chưa đưa vào tổng hợp)", "Heading 2")
    names = {u.unit_code: u.unit_name for u in report.units}
    for flag in flags:
        text = f"{names.get(flag.unit_code, flag.unit_code)}: {flag.message_vi}."
        add_paragraph(document, text, BODY)


def _grid(
    document: Document,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[Length],
    *,
    numeric: Sequence[int] = (),
) -> None:
    table = document.add_table(rows=1, cols=len(headers))
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        line(cell.paragraphs[0], header, size=12, bold=True)
    for values in rows:
        cells = table.add_row().cells
        for n, (cell, value) in enumerate(zip(cells, values, strict=True)):
            centred = n == 0 or n in numeric
            line(cell.paragraphs[0], value, size=12, center=centred)
    set_widths(table, widths)
    paginate(table, header=True)
    document.add_paragraph().paragraph_format.space_after = Pt(6)


def _properties(document: Document, report: ReportInput) -> None:
    properties = document.core_properties
    properties.author = properties.last_modified_by = "dondoc"
    properties.title = f"{report.title} {report.summary}"
    properties.comments = ""
    properties.revision = 1
    properties.created = properties.modified = report.fixed_moment
