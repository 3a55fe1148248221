"""The few things python-docx has no API for: fonts that beat the template's theme fonts, tables
without borders, a short rule under a line, a page number field, a repeated header row."""

from __future__ import annotations

from collections.abc import Sequence

from docx.document import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Length, Pt
from docx.styles.style import ParagraphStyle
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

FONT = "Times New Roman"
_THEME_ATTRS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")


def use_font(document: Document, *, language: str = "vi-VN") -> None:
    """Times New Roman for every script, in the defaults and in every style. An explicit font
    name loses to the theme fonts (Calibri, Cambria) that the template sets next to it."""
    styles = document.styles.element
    for fonts in styles.iter(qn("w:rFonts")):
        for attr in _THEME_ATTRS:
            fonts.attrib.pop(qn(attr), None)
        for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            fonts.set(qn(attr), FONT)
    for lang in styles.iter(qn("w:lang")):
        lang.set(qn("w:val"), language)  # spelling checked as Vietnamese
    normal = document.styles["Normal"]
    assert isinstance(normal, ParagraphStyle)
    normal.font.name = FONT  # shown as Normal's font in Word, not only inherited
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)


def line(
    paragraph: Paragraph,
    text: str,
    *,
    size: float = 14,
    bold: bool = False,
    italic: bool = False,
    center: bool = True,
) -> Run:
    """One run of text in a paragraph without spacing (the header and signature blocks)."""
    run = paragraph.add_run(text)
    run.font.size, run.font.bold, run.font.italic = Pt(size), bold, italic
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.space_after = Pt(0)
    paragraph.paragraph_format.space_before = Pt(0)
    return run


def rule_below(cell: _Cell, length: Length, cell_width: Length) -> None:
    """The short centred line under the issuer and under the motto (Decree 30/2020): the bottom
    border of an empty, 2 pt high paragraph between equal indents, last in the cell."""
    rule = cell.add_paragraph()
    indent = Length((cell_width - length) // 2)
    rule.paragraph_format.left_indent = rule.paragraph_format.right_indent = indent
    rule.paragraph_format.space_before = rule.paragraph_format.space_after = Pt(0)
    p_pr = rule._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for attr, value in (
        ("w:val", "single"),
        ("w:sz", "6"),
        ("w:space", "1"),
        ("w:color", "000000"),
    ):
        bottom.set(qn(attr), value)
    borders.append(bottom)
    p_pr.append(borders)
    mark = OxmlElement("w:rPr")  # the paragraph mark's size sets the empty line's height
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), "4")
    mark.append(size)
    p_pr.append(mark)


def borderless(table: Table, widths: Sequence[Length]) -> None:
    properties = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    properties.append(borders)
    margins = OxmlElement("w:tblCellMar")  # the full width for the text
    for edge in ("left", "right"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:w"), "0")
        element.set(qn("w:type"), "dxa")
        margins.append(element)
    properties.append(margins)
    set_widths(table, widths)


def set_widths(table: Table, widths: Sequence[Length]) -> None:
    """Word reads the cells' widths, LibreOffice the grid's: set both."""
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
        for cell in column.cells:
            cell.width = width


def paginate(table: Table, *, header: bool) -> None:
    """No row is cut by a page break; with `header`, the first row is repeated at the top of
    every page the table runs onto."""
    for n, row in enumerate(table.rows):
        properties = row._tr.get_or_add_trPr()
        for tag in ("w:cantSplit", "w:tblHeader") if header and n == 0 else ("w:cantSplit",):
            marker = OxmlElement(tag)
            marker.set(qn("w:val"), "true")
            properties.append(marker)


def page_number(paragraph: Paragraph) -> None:
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "2"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER


def add_paragraph(document: Document, text: str = "", style: str | None = None) -> Paragraph:
    """document.add_paragraph(text, style=…) without python-docx's scan of every style of the
    document on each call (0.1 s per 50 paragraphs): the style is looked up by name, its id set."""
    paragraph = document.add_paragraph(text)
    if style is not None:
        paragraph._p.style = document.styles[style].style_id
    return paragraph
