"""Taking what a unit wrote under each outline heading from its .docx, however loosely the unit
copied the headings."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass

import docx
import pytest

from dondoc.reports.narrative import OTHER, NarrativeError, extract_sections

SITUATION = "I. Tình hình công nhân, viên chức, lao động và đoàn viên công đoàn"
RESULTS = (
    "II. Kết quả thực hiện Nghị quyết Đại hội CĐCS và Nghị quyết Đại hội Công đoàn quận 1 "
    "lần thứ XI"
)
CARE = (
    "II.1. Công tác đại diện, bảo vệ quyền, lợi ích hợp pháp, chính đáng và chăm lo đời sống "
    "đoàn viên, người lao động"
)
WOMEN = "II.4. Công tác nữ công"
INSPECTION = "II.5. Công tác kiểm tra và tài chính công đoàn"
TARGETS = "II.6. Kết quả thực hiện các chỉ tiêu (chỉ tiêu – kết quả – tỷ lệ – đạt/không đạt)"
PROPOSALS = "IV. Đề xuất, kiến nghị"
ANNEX = "Phụ lục. Bảng số liệu sơ kết nửa nhiệm kỳ"
OUTLINE = [SITUATION, RESULTS, CARE, WOMEN, INSPECTION, TARGETS, PROPOSALS, ANNEX]


@dataclass(frozen=True)
class P:
    """A paragraph of a test document."""

    text: str
    style: str | None = None
    bold: bool = False


def document(*paragraphs: P | list[list[str]]) -> bytes:
    doc = docx.Document()
    for item in paragraphs:
        if isinstance(item, list):
            table = doc.add_table(rows=len(item), cols=len(item[0]))
            for r, row in enumerate(item):
                for c, text in enumerate(row):
                    table.cell(r, c).text = text
            continue
        paragraph = doc.add_paragraph(style=item.style)
        paragraph.add_run(item.text).bold = item.bold or None
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_it_gathers_the_text_under_each_heading() -> None:
    data = document(
        P(SITUATION, "Heading 1"),
        P("Công ty có 420 công nhân."),
        P("Trong đó 300 đoàn viên."),
        P(WOMEN, "Heading 2"),
        P("Tổ chức 5 hoạt động cho nữ đoàn viên."),
    )
    assert extract_sections(data, OUTLINE) == {
        SITUATION: "Công ty có 420 công nhân.\nTrong đó 300 đoàn viên.",
        WOMEN: "Tổ chức 5 hoạt động cho nữ đoàn viên.",
    }


def test_text_before_the_first_heading_goes_to_other_and_comes_first() -> None:
    data = document(
        P("CÔNG ĐOÀN CÔNG TY TNHH HẢI ÂU", bold=True),
        P("BÁO CÁO", bold=True),
        P(PROPOSALS, "Heading 1"),
        P("Đề nghị tăng kinh phí."),
        P(SITUATION, "Heading 1"),
        P("Có 42 người."),
    )
    result = extract_sections(data, OUTLINE)
    assert list(result) == [OTHER, SITUATION, PROPOSALS]
    assert result[OTHER] == "CÔNG ĐOÀN CÔNG TY TNHH HẢI ÂU\nBÁO CÁO"


HEADINGS: list[tuple[str, P, str]] = [
    ("as in the outline", P(CARE, "Heading 2"), CARE),
    ("arabic numbering", P("2.1. Công tác đại diện, bảo vệ quyền, lợi ích", bold=True), CARE),
    ("no dot after the number", P("2.1 Công tác đại diện, bảo vệ quyền", bold=True), CARE),
    ("another title under the same number, bold", P("2.1. Đại diện và chăm lo", bold=True), CARE),
    ("numbered again under II", P("1. Công tác đại diện, bảo vệ quyền, lợi ích hợp pháp"), CARE),
    ("without diacritics, in capitals", P("II.4. CONG TAC NU CONG"), WOMEN),
    ("in lower case", P("II.4 công tác nữ công"), WOMEN),
    ("in decomposed Unicode", P(unicodedata.normalize("NFD", WOMEN)), WOMEN),
    ("numbered by Word, so no number in the text", P("Công tác nữ công", "Heading 3"), WOMEN),
    ("the same start, told apart by the rest", P("5. Công tác kiểm tra", bold=True), INSPECTION),
    ("a short title, then the number decides", P("II. Kết quả thực hiện", bold=True), RESULTS),
    ("a short title with another number", P("II.6. Kết quả thực hiện", bold=True), TARGETS),
    ("a heading in capitals", P("IV. ĐỀ XUẤT, KIẾN NGHỊ", bold=True), PROPOSALS),
    ("an unnumbered annex", P("Phụ lục: Bảng số liệu sơ kết nửa nhiệm kỳ", bold=True), ANNEX),
]  # fmt: skip


@pytest.mark.parametrize(
    ("heading", "section"), [c[1:] for c in HEADINGS], ids=[c[0] for c in HEADINGS]
)
def test_headings_are_recognised_however_they_are_written(heading: P, section: str) -> None:
    result = extract_sections(document(heading, P("Nội dung của mục.")), OUTLINE)
    assert result == {section: "Nội dung của mục."}


BODY: list[tuple[str, P]] = [
    ("a numbered list item in plain text", P("1. Tổ chức được 3 hội nghị người lao động.")),
    ("plain text that starts like a heading", P("Công tác nữ công được quan tâm thường xuyên.")),
    ("a bold sentence", P("Kết quả đạt được rất đáng khích lệ.", bold=True)),
    ("a long bold paragraph", P("Công tác nữ công" + ", được quan tâm" * 30, bold=True)),
    ("a number that is a year", P("2015 là năm công ty mở rộng sản xuất.")),
]  # fmt: skip


@pytest.mark.parametrize("paragraph", [c[1] for c in BODY], ids=[c[0] for c in BODY])
def test_body_text_is_not_taken_for_a_heading(paragraph: P) -> None:
    result = extract_sections(document(P(SITUATION, "Heading 1"), paragraph), OUTLINE)
    assert result == {SITUATION: paragraph.text}


def test_tables_are_kept_as_lines_of_cells() -> None:
    data = document(
        P(TARGETS, "Heading 2"),
        [["Chỉ tiêu", "Kết quả", "Kết quả"], ["CT01", "5.398", "5.398"], ["", "", ""]],
        P("Đạt 8/10 chỉ tiêu."),
    )
    assert extract_sections(data, OUTLINE) == {
        TARGETS: "Chỉ tiêu | Kết quả\nCT01 | 5.398\nĐạt 8/10 chỉ tiêu."
    }


def test_a_heading_without_text_is_left_out() -> None:
    data = document(P(SITUATION, "Heading 1"), P(RESULTS, "Heading 1"), P("Kết quả tốt."))
    assert extract_sections(data, OUTLINE) == {RESULTS: "Kết quả tốt."}


def test_a_document_without_headings_is_all_other() -> None:
    assert extract_sections(document(P("Chỉ có một đoạn.")), OUTLINE) == {OTHER: "Chỉ có một đoạn."}


@pytest.mark.parametrize("data", [b"", b"%PDF-1.4 not a docx", b"PK\x03\x04 broken zip"])
def test_a_file_that_is_not_a_docx_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(NarrativeError, match=r"not a readable \.docx file"):
        extract_sections(data, OUTLINE)
