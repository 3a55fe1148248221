"""The consolidation's workbook and draft report, built from the seed plan's 56 CĐCS: opened again
with openpyxl and python-docx, built twice to the same bytes, and printed to PDF by LibreOffice."""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import shutil
import subprocess
import time
from dataclasses import replace
from decimal import Decimal
from functools import cache
from pathlib import Path

import docx
import pytest
from docx.document import Document
from docx.shared import Pt
from docx.table import Table
from docx.text.paragraph import Paragraph
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from dondoc.plans.loader import read_plan
from dondoc.reports.document import build_document
from dondoc.reports.model import ReportInput, Section, StatusRow
from dondoc.reports.texts import org_lines
from dondoc.reports.workbook import HEADER_ROW, build_workbook
from dondoc.rules.aggregate import IndicatorRuleLike, TargetLike, UnitFigures, aggregate
from dondoc.rules.deadlines import VN_TZ
from dondoc.rules.status import Status
from models.campaigns import Target
from tests.rules.test_aggregate import stored_definition

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXEMPT = {"Q1-CD055", "Q1-CD056"}
NEVER = {"Q1-CD010", "Q1-CD020", "Q1-CD030", "Q1-CD040"}
RETURNED = {"Q1-CD050"}
LATE = {"Q1-CD005", "Q1-CD015", "Q1-CD025", "Q1-CD035", "Q1-CD045"}
FLAGGED = "Q1-CD003"  # more women members than members
BEN_NGHE = "CĐCS Ủy ban nhân dân phường Bến Nghé"


@cache
def seed_report() -> ReportInput:
    source = read_plan(EXAMPLES / "q1-so-ket-2015.yaml")
    plan = source.spec.plan
    definitions: list[IndicatorRuleLike] = [stored_definition(i) for i in source.spec.indicators]
    targets: list[TargetLike] = [
        Target(campaign_id=1, code=t.code, label=t.label, indicator=t.indicator, value=t.value,
               unit=t.unit, direction=t.direction,
               sectors=[s.value for s in t.sectors] if t.sectors else None)
        for t in source.spec.targets
    ]  # fmt: skip
    cdcs = [
        u.spec
        for u in source.units
        if u.spec.parent == "LDLD-Q1" and u.spec.kind in ("grassroots_union", "professional_union")
    ]
    rng = random.Random(2015)
    statuses = [_status(u.code, u.name, rng) for u in cdcs]
    units = [
        UnitFigures(
            u.code,
            u.name,
            u.sector.value if u.sector else None,
            "CĐCS trực thuộc",
            _figures(rng, u.code, u.sector.value if u.sector else None),
            exempt=s.status is Status.EXEMPT,
            submitted=s.status in (Status.ON_TIME, Status.LATE),
        )
        for u, s in zip(cdcs, statuses, strict=True)
    ]
    cdcs_req = next(r for r in source.spec.requirements if r.code == "cdcs")
    return ReportInput(
        parent_body="Liên đoàn Lao động TP. Hồ Chí Minh",
        issuer="Liên đoàn Lao động quận 1",
        number="102/BC-LĐLĐ",
        place=plan.place or "Quận 1",
        report_date=dt.date(2015, 11, 26),
        summary="Sơ kết nửa nhiệm kỳ thực hiện Nghị quyết Đại hội Công đoàn quận 1 lần thứ XI",
        sections=_sections(list(cdcs_req.outline)),
        aggregate=aggregate(definitions, targets, units),
        indicators=definitions,
        units=units,
        status_rows=statuses,
        distribution=[d.to for d in plan.distribution],
        signer_title=plan.signer.title if plan.signer else "",
        signer_name=(plan.signer.name if plan.signer else None) or "",
        targets_section=next(h for h in cdcs_req.outline if h.startswith("II.6.")),
    )


def _status(code: str, name: str, rng: random.Random) -> StatusRow:
    row = StatusRow(code, name, "CĐCS trực thuộc", Status.ON_TIME)
    if code in EXEMPT:
        return replace(row, status=Status.EXEMPT)
    if code in NEVER:
        return replace(row, status=Status.OVERDUE)
    day = 25 if code in LATE else rng.randint(17, 24)
    local = dt.datetime(2015, 11, day, rng.randint(8, 16), rng.randint(0, 59), tzinfo=VN_TZ)
    status = (
        Status.RETURNED if code in RETURNED else Status.LATE if code in LATE else Status.ON_TIME
    )
    return replace(row, status=status, submitted_at=local.astimezone(dt.UTC), version=1)


def _figures(rng: random.Random, code: str, sector: str | None) -> dict[str, Decimal | str]:
    workers = rng.randint(25, 900)
    members = rng.randint(workers * 6 // 10, workers)
    values: dict[str, Decimal | str] = {
        "so_cnvcld": Decimal(workers),
        "so_doan_vien": Decimal(members),
        "so_doan_vien_nu": Decimal(members + 7 if code == FLAGGED else members // 2),
        "dv_ket_nap_moi": Decimal(rng.randint(0, 200)),
        "xep_loai_2014": rng.choice(["VMXS", "VM", "VM", "Khá", "TB"]),
        "to_chuc_hoi_nghi": Decimal(rng.choice([1, 1, 1, 0])),
        "gioi_thieu_dang": Decimal(rng.randint(0, 12)),
        "kinh_phi_cham_lo": Decimal(rng.randint(10, 400) * 1_000_000),
        "mai_am_cd_can": Decimal(rng.choice([0, 0, 1])),
        "thu_kpcd_pct": Decimal(rng.randint(80, 120)),
    }
    if sector in ("state", "non_state", "fdi"):
        values["co_tuldtt"] = Decimal(rng.choice([1, 1, 0]))
        values["tranh_chap_tap_the"] = Decimal(rng.choice([0, 0, 0, 0, 1]))
    return values


def _sections(outline: list[str]) -> list[Section]:
    said = {
        outline[0]: [
            (BEN_NGHE, "Cơ quan có 42 cán bộ, công chức.\nĐoàn viên đạt 100%."),
            ("CĐCS Ủy ban nhân dân phường Bến Thành", "Có 38 cán bộ, công chức, người lao động."),
        ],
        outline[4]: [(BEN_NGHE, "Kết nạp mới 3 đoàn viên.")],
    }  # fmt: skip
    return [(heading, said.get(heading, [])) for heading in outline]


def workbook_sheets() -> dict[str, Worksheet]:
    book = load_workbook(io.BytesIO(build_workbook(seed_report())))
    return {ws.title: ws for ws in book.worksheets}


def column_values(ws: Worksheet, column: int) -> list[object]:
    return [ws.cell(r, column).value for r in range(HEADER_ROW + 1, ws.max_row + 1)]


def row_of(ws: Worksheet, column: int, value: object) -> int:
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(r, column).value == value)


def test_the_workbook_has_its_sheets_in_order() -> None:
    assert list(workbook_sheets()) == [
        "Tình hình nộp", "Số liệu", "Chưa nộp", "Chỉ tiêu", "Theo loại hình, nhóm",
    ]  # fmt: skip


def test_the_status_sheet_lists_every_unit_with_its_status_and_local_time() -> None:
    ws = workbook_sheets()["Tình hình nộp"]
    headers = [c.value for c in ws[HEADER_ROW]]
    assert headers == [
        "STT", "Mã đơn vị", "Tên đơn vị", "Nhóm báo cáo",
        "Thời điểm nộp", "Tình trạng", "Phiên bản",
    ]  # fmt: skip
    assert len(column_values(ws, 2)) == 56
    late = row_of(ws, 2, "Q1-CD005")
    assert ws.cell(late, 6).value == "Nộp trễ hạn"
    submitted = ws.cell(late, 5).value
    assert isinstance(submitted, dt.datetime) and submitted.date() == dt.date(2015, 11, 25)
    assert ws.cell(row_of(ws, 2, "Q1-CD010"), 6).value == "Quá hạn, chưa nộp"
    assert ws.cell(row_of(ws, 2, "Q1-CD055"), 6).value == "Miễn nộp"


def test_the_figures_sheet_has_a_row_per_unit_then_the_totals() -> None:
    ws = workbook_sheets()["Số liệu"]
    report = seed_report()
    headers = [c.value for c in ws[HEADER_ROW]]
    assert headers[:5] == ["STT", "Mã đơn vị", "Tên đơn vị", "Nhóm báo cáo", "Loại hình"]
    assert "Tổng số đoàn viên (người)" in headers
    members = headers.index("Tổng số đoàn viên (người)") + 1
    rate = headers.index("Tỷ lệ đoàn viên / CNVC-LĐ (%)") + 1
    total = row_of(ws, 3, "Tổng cộng")
    assert total == HEADER_ROW + 57
    assert ws.cell(total, members).value == report.aggregate.totals["so_doan_vien"].value
    expected_rate = report.aggregate.totals["ty_le_dv"].value
    assert Decimal(str(ws.cell(total, rate).value)) == expected_rate
    assert ws.cell(total, members).number_format == "[$-42A]#,##0"
    vm = headers.index("Xếp loại CĐCS năm 2014") + 1
    assert ws.cell(total, vm).value == report.aggregate.totals["xep_loai_2014"].count
    share = row_of(ws, 3, "Tỷ lệ đơn vị đạt (%)")
    assert Decimal(str(ws.cell(share, vm).value)) == report.aggregate.totals["xep_loai_2014"].value
    missing = row_of(ws, 3, "Số đơn vị thiếu số liệu")
    assert ws.cell(missing, members).value == 7  # 4 never submitted, 1 returned, 2 exempt


def test_a_flagged_value_is_shown_in_red_with_the_reason() -> None:
    ws = workbook_sheets()["Số liệu"]
    headers = [c.value for c in ws[HEADER_ROW]]
    cell = ws.cell(row_of(ws, 2, FLAGGED), headers.index("Trong đó đoàn viên nữ (người)") + 1)
    assert cell.fill.fgColor.rgb.endswith("F4CCCC")
    assert cell.comment is not None
    assert "Trong đó đoàn viên nữ không được lớn hơn tổng số đoàn viên" in cell.comment.text


def test_the_missing_sheet_lists_units_without_a_counted_report() -> None:
    ws = workbook_sheets()["Chưa nộp"]
    assert sorted(str(v) for v in column_values(ws, 2)) == sorted(NEVER | RETURNED)


def test_the_targets_sheet_gives_result_percentage_and_verdict() -> None:
    ws = workbook_sheets()["Chỉ tiêu"]
    report = seed_report()
    assert [c.value for c in ws[HEADER_ROW]][-4:] == [
        "Chỉ tiêu",
        "Kết quả",
        "Tỷ lệ đạt (%)",
        "Đánh giá",
    ]
    for n, target in enumerate(report.aggregate.targets, HEADER_ROW + 1):
        assert ws.cell(n, 2).value == target.code
        assert (
            ws.cell(n, 9).value
            == {True: "Đạt", False: "Không đạt", None: "Chưa đủ số liệu"}[target.met]
        )
        if target.achieved_pct is not None:
            assert Decimal(str(ws.cell(n, 8).value)) == target.achieved_pct


def test_every_sheet_prints_landscape_fitted_to_width_with_its_header_repeated() -> None:
    for ws in workbook_sheets().values():
        assert ws.page_setup.orientation == "landscape"
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"


def read_document() -> Document:
    return docx.Document(io.BytesIO(build_document(seed_report())))


def cell_lines(table: Table, row: int, column: int) -> list[str]:
    return [p.text for p in table.cell(row, column).paragraphs if p.text]


def test_the_document_opens_with_the_issuer_block_and_the_national_motto() -> None:
    header = read_document().tables[0]
    assert cell_lines(header, 0, 0) == [
        "LIÊN ĐOÀN LAO ĐỘNG", "TP. HỒ CHÍ MINH", "LIÊN ĐOÀN LAO ĐỘNG QUẬN 1",
    ]  # fmt: skip
    parent, issuer = header.cell(0, 0).paragraphs[1], header.cell(0, 0).paragraphs[2]
    assert issuer.runs[0].bold and not parent.runs[0].bold
    motto = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]
    assert cell_lines(header, 0, 1) == motto
    assert all(p.runs[0].bold for p in header.cell(0, 1).paragraphs if p.text)
    assert cell_lines(header, 1, 0) == ["Số: 102/BC-LĐLĐ"]
    date_line = header.cell(1, 1).paragraphs[0]
    assert date_line.text == "Quận 1, ngày 26 tháng 11 năm 2015"
    assert date_line.runs[0].italic
    assert 'w:val="nil"' in header._tbl.xml  # no borders


def test_the_title_and_summary_are_bold_and_centred() -> None:
    paragraphs = [p for p in read_document().paragraphs if p.text]
    title, summary = paragraphs[0], paragraphs[1]
    assert title.text == "BÁO CÁO"
    assert summary.text.startswith("Sơ kết nửa nhiệm kỳ")
    for p in (title, summary):
        assert p.runs[0].bold and p.alignment == 1  # WD_ALIGN_PARAGRAPH.CENTER


def test_the_sections_carry_what_each_unit_wrote() -> None:
    document = read_document()
    headings = [
        p for p in document.paragraphs if p.style is not None and p.style.name.startswith("Heading")
    ]
    texts = [p.text for p in headings]
    assert texts[0].startswith("I. Tình hình công nhân")
    assert any(t.startswith("II.3.") for t in texts)
    levels = {p.text.split(" ")[0]: p.style.name for p in headings if p.style is not None}
    assert (levels["I."], levels["II.1."]) == ("Heading 1", "Heading 2")
    body = [p.text for p in document.paragraphs]
    at = body.index(f"{BEN_NGHE}:")
    assert body[at + 1 : at + 3] == ["Cơ quan có 42 cán bộ, công chức.", "Đoàn viên đạt 100%."]
    assert "(Chưa có đơn vị nào viết mục này.)" in body


def test_the_targets_table_gives_target_result_and_verdict() -> None:
    table = read_document().tables[1]
    rows = [[c.text for c in row.cells] for row in table.rows]
    assert rows[0] == ["STT", "Chỉ tiêu", "Chỉ tiêu đề ra", "Kết quả", "Tỷ lệ đạt", "Đánh giá"]
    assert len(rows) == 11
    first = rows[1]
    assert first[1].startswith("CT01. Phát triển đoàn viên mới")
    assert first[2] == "≥ 5.000 đoàn viên"
    ct01 = seed_report().aggregate.targets[0]
    assert ct01.result is not None and first[3] == f"{int(ct01.result):,} đoàn viên".replace(
        ",", "."
    )
    assert rows[10][2] == "≤ 3 vụ"
    assert 'w:tblHeader w:val="true"' in table._tbl.xml


def blocks(document: Document) -> list[str]:
    """The body in order: a paragraph's text, or "<table>"."""
    return [
        b.text if isinstance(b, Paragraph) else "<table>" for b in document.iter_inner_content()
    ]


def test_the_targets_table_sits_under_its_outline_heading() -> None:
    body = blocks(read_document())
    at = body.index(seed_report().targets_section or "")
    assert body[at + 1] == "<table>"


def test_without_an_outline_heading_the_targets_table_gets_its_own_after_the_sections() -> None:
    report = replace(seed_report(), targets_section=None)
    body = blocks(docx.Document(io.BytesIO(build_document(report))))
    at = body.index("KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU")
    assert body[at + 1] == "<table>"
    assert at > body.index(report.sections[-1][0])


ORG_LINES = [
    ("Liên đoàn Lao động TP. Hồ Chí Minh", ["LIÊN ĐOÀN LAO ĐỘNG", "TP. HỒ CHÍ MINH"]),
    ("Liên đoàn Lao động Thành phố Hồ Chí Minh", ["LIÊN ĐOÀN LAO ĐỘNG", "THÀNH PHỐ HỒ CHÍ MINH"]),
    ("Liên đoàn Lao động quận 1", ["LIÊN ĐOÀN LAO ĐỘNG QUẬN 1"]),
    ("Liên đoàn Lao động tỉnh Bà Rịa - Vũng Tàu", ["LIÊN ĐOÀN LAO ĐỘNG", "TỈNH BÀ RỊA - VŨNG TÀU"]),
    ("Công đoàn Viên chức\nThành phố", ["CÔNG ĐOÀN VIÊN CHỨC", "THÀNH PHỐ"]),
    ("Công đoàn các Khu chế xuất và công nghiệp", ["CÔNG ĐOÀN CÁC KHU CHẾ XUẤT VÀ CÔNG NGHIỆP"]),
]


@pytest.mark.parametrize(("name", "lines"), ORG_LINES)
def test_a_long_name_breaks_before_its_place_in_the_issuer_block(
    name: str, lines: list[str]
) -> None:
    assert org_lines(name) == lines


def test_the_signature_block_has_the_recipients_left_and_the_signer_right() -> None:
    table = read_document().tables[2]
    recipients = cell_lines(table, 0, 0)
    assert recipients[0] == "Nơi nhận:"
    assert recipients[1] == "- Thường trực Liên đoàn Lao động TP;"
    assert recipients[-1] == "- Lưu VP+CN TT."
    assert cell_lines(table, 0, 1) == ["TM. BAN THƯỜNG VỤ", "CHỦ TỊCH", "Hồ Bích Ngọc"]


def test_the_annex_counts_submissions_and_lists_the_missing_units() -> None:
    document = read_document()
    body = [p.text for p in document.paragraphs]
    assert "Đã nộp 49/54; đúng hạn 44; trễ hạn 5; chưa nộp 5; miễn nộp 2." in body
    missing = document.tables[3]
    assert sorted(row.cells[1].text for row in missing.rows[1:]) == sorted(NEVER | RETURNED)
    figures = [[c.text for c in row.cells] for row in document.tables[4].rows]
    care = next(r for r in figures if r[1].startswith("Kinh phí chăm lo"))
    assert care[2].endswith(" đồng") and "." in care[2]
    name = next(u.unit_name for u in seed_report().units if u.unit_code == FLAGGED)
    flag = f"{name}: Trong đó đoàn viên nữ không được lớn hơn tổng số đoàn viên"
    assert any(t.startswith(flag) for t in body)


def test_the_page_is_a4_with_decree_30_margins_in_times_new_roman() -> None:
    document = read_document()
    section = document.sections[0]
    sizes = [section.page_width, section.page_height, section.top_margin, section.bottom_margin]
    sizes += [section.left_margin, section.right_margin]
    # Stored in twips: whole millimetres come back a few hundredths off.
    assert [round(s.mm) if s is not None else None for s in sizes] == [210, 297, 20, 20, 30, 15]
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman"
    assert normal.font.size == Pt(14)
    assert "asciiTheme" not in document.styles.element.xml


def test_an_empty_report_still_builds() -> None:
    empty = replace(
        seed_report(),
        sections=[],
        units=[],
        status_rows=[],
        aggregate=aggregate(seed_report().indicators, [], []),
        distribution=[],
    )
    assert build_workbook(empty)[:2] == b"PK"
    body = [p.text for p in docx.Document(io.BytesIO(build_document(empty))).paragraphs]
    assert "Đã nộp 0/0; đúng hạn 0; trễ hạn 0; chưa nộp 0." in body


def test_the_same_input_gives_the_same_bytes_a_day_later(monkeypatch: pytest.MonkeyPatch) -> None:
    first = (build_workbook(seed_report()), build_document(seed_report()))
    later = time.time() + 86_400
    monkeypatch.setattr(time, "time", lambda: later)  # zipfile stamps entries with time.time()
    assert (build_workbook(seed_report()), build_document(seed_report())) == first


def test_the_files_say_they_were_made_on_the_report_date() -> None:
    moment = dt.datetime(2015, 11, 26, tzinfo=dt.UTC)
    book = load_workbook(io.BytesIO(build_workbook(seed_report())))
    assert book.properties.created == book.properties.modified == moment.replace(tzinfo=None)
    properties = read_document().core_properties
    assert properties.created == properties.modified == moment


def _pdf_tools() -> tuple[str, str]:
    soffice, pdftotext = shutil.which("soffice"), shutil.which("pdftotext")
    if soffice and pdftotext:
        return soffice, pdftotext
    reason = (
        "the PDF check needs LibreOffice and poppler (Debian: libreoffice-writer-nogui, "
        f"poppler-utils); missing: {'soffice' if not soffice else 'pdftotext'}"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def test_libreoffice_prints_the_draft_with_its_issuer_block_title_and_tables(
    tmp_path: Path,
) -> None:
    soffice, pdftotext = _pdf_tools()
    source = tmp_path / "bao-cao.docx"
    source.write_bytes(build_document(seed_report()))
    profile = (
        tmp_path / "lo-profile"
    ).as_uri()  # a private profile: no clash with a running office
    subprocess.run(
        [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    text = subprocess.run(
        [pdftotext, "-layout", str(tmp_path / "bao-cao.pdf"), "-"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    for expected in (
        "LIÊN ĐOÀN LAO ĐỘNG",
        "TP. HỒ CHÍ MINH",
        "LIÊN ĐOÀN LAO ĐỘNG QUẬN 1",
        "Số: 102/BC-LĐLĐ",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Quận 1, ngày 26 tháng 11 năm 2015",
        "BÁO CÁO",
        "CT01. Phát triển đoàn viên mới",  # a cell of the targets table
        "≥ 5.000",
        "Đã nộp 49/54",
        "Hồ Bích Ngọc",
    ):
        assert expected in text, expected
