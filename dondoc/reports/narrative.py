"""What a unit wrote under each heading of the outline, taken from its .docx report, so that the
office can read one section across all units.

Units copy the outline loosely: "II.1." becomes "2.1" or "1." under "II", headings lose their
diacritics or change case, Word numbering hides the number from the text. A paragraph starts a
section when it looks like a heading (a heading style, all bold, or a leading number) and either
its title starts like the outline's title or its number is the outline's number and its style
says heading. Text before the first heading (the unit's own header block) goes to OTHER."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import docx
from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

OTHER = "other"
_NUMBER = re.compile(r"^\s*((?:[IVXLC]+|\d+)(?:\.(?:[IVXLC]+|\d+))*)(?:[.):]\s*|\s+)(?=\S)")
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_TITLE_WORDS = 6  # enough to tell "Công tác nữ công" from "Công tác kiểm tra"
_MAX_HEADING = 300  # characters; longer paragraphs are body text


class NarrativeError(ValueError):
    """The file is not a .docx that can be read."""


@dataclass(frozen=True)
class _Heading:
    text: str  # as the outline writes it
    number: tuple[int, ...] | None
    words: tuple[str, ...]


@dataclass(frozen=True)
class _Line:
    text: str
    number: tuple[int, ...] | None
    words: tuple[str, ...]
    styled: bool  # heading style or all bold
    headlike: bool


def extract_sections(data: bytes, outline: Sequence[str]) -> dict[str, str]:
    """{outline heading: the text under it}, in the outline's order after OTHER; sections with
    no text are left out. Tables are kept as lines of cells joined by " | "."""
    headings = [_heading(h) for h in outline]
    found: dict[str, list[str]] = {}
    current = OTHER
    for line in _lines(_open(data)):
        match = _match(line, headings)
        if match is not None:
            current = match.text
        else:
            found.setdefault(current, []).append(line.text)
    order = [OTHER, *outline]
    return {key: "\n".join(found[key]) for key in order if key in found}


def _open(data: bytes) -> Document:
    try:
        return docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise NarrativeError(f"not a readable .docx file ({type(exc).__name__})") from exc


def _lines(document: Document) -> Iterator[_Line]:
    styles = _paragraph_styles(document)
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            if block.text.strip():
                yield _line(block.text.strip(), styled=_styled(block, styles))
        elif isinstance(block, Table):
            for row in _table_rows(block):
                yield _line(row, styled=False)


def _table_rows(table: Table) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                cells.append(text)
        if cells:
            yield " | ".join(cells)


# style id -> (name, bold); None: the document's default paragraph style.
_Styles = dict[str | None, tuple[str, bool]]


def _paragraph_styles(document: Document) -> _Styles:
    """Read once per document: python-docx's `paragraph.style` scans every style of the
    document on each call (a second per report of 50 paragraphs)."""
    styles: _Styles = {}
    for style in document.styles:
        if style.type == WD_STYLE_TYPE.PARAGRAPH:
            entry = (style.name or "", bool(style.font.bold))
            styles[style.style_id] = entry
            if style.element.default:
                styles[None] = entry
    return styles


def _styled(paragraph: Paragraph, styles: _Styles) -> bool:
    properties = paragraph._p.pPr
    style_id = properties.style if properties is not None else None
    name, style_bold = styles.get(style_id) or styles.get(None) or ("", False)
    if name.lower().startswith(("heading", "title")):
        return True
    runs = [r for r in paragraph.runs if r.text.strip()]
    return bool(runs) and all(r.bold or (r.bold is None and style_bold) for r in runs)


def _line(text: str, *, styled: bool) -> _Line:
    number, title = _split_number(text)
    headlike = len(text) <= _MAX_HEADING and (styled or number is not None)
    return _Line(text, number, _words(title), styled, headlike)


def _heading(text: str) -> _Heading:
    number, title = _split_number(text)
    return _Heading(text, number, _words(title))


def _match(line: _Line, headings: Sequence[_Heading]) -> _Heading | None:
    """The best outline heading for the line: a title match beats a number match; the same
    number breaks a tie between titles, then the longer common start."""
    if not line.headlike:
        return None
    best: tuple[int, int, int] | None = None
    chosen = None
    for heading in headings:
        common = _common_start(line.words, heading.words)
        title = common >= min(len(heading.words), _TITLE_WORDS) or (
            common == len(line.words) and common >= 3
        )
        same_number = line.number is not None and line.number == heading.number
        if not title and not (same_number and line.styled):
            continue
        score = (int(title), int(same_number), common)
        if best is None or score > best:
            best, chosen = score, heading
    return chosen


def _common_start(a: Sequence[str], b: Sequence[str]) -> int:
    n = 0
    while n < min(len(a), len(b), _TITLE_WORDS) and a[n] == b[n]:
        n += 1
    return n


def _split_number(text: str) -> tuple[tuple[int, ...] | None, str]:
    match = _NUMBER.match(text)
    if not match:
        return None, text
    return tuple(_number(part) for part in match[1].split(".")), text[match.end() :]


def _number(part: str) -> int:
    if part.isdigit():
        return int(part)
    values = [_ROMAN[c] for c in part]
    return sum(-v if v < after else v for v, after in zip(values, [*values[1:], 0], strict=True))


def _words(text: str) -> tuple[str, ...]:
    """Lower case, no diacritics, đ as d, punctuation as spaces."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if unicodedata.category(c) != "Mn").casefold()
    return tuple(re.sub(r"[^\w]+", " ", plain).split())
