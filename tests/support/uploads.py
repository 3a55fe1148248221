"""Small files of every type a unit may send (and some it may not), built in memory."""

from __future__ import annotations

import io
import re
import zipfile

from openpyxl import Workbook

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
OLE2 = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 504

_OOXML_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "xlsm": "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
}


def package(entries: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return out.getvalue()


def ooxml(kind: str) -> bytes:
    """A minimal OOXML package whose [Content_Types].xml declares `kind`'s main part."""
    types = (
        '<?xml version="1.0"?><Types><Override PartName="/main.xml" '
        f'ContentType="{_OOXML_TYPES[kind]}"/></Types>'
    )
    return package({"[Content_Types].xml": types, "main.xml": "<document/>"})


def odt() -> bytes:
    return package(
        {"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<document/>"}
    )


def plain_zip() -> bytes:
    return package({"readme.txt": "hello"})


def unrelated_xlsx() -> bytes:
    """A workbook a unit might have lying around: figures, but not dondoc's form."""
    book = Workbook()
    sheet = book.active
    sheet.append(["Chỉ tiêu", "Số liệu"])
    sheet.append(["Tổng số đoàn viên", 120])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def form_inputs(html: str, action: str) -> dict[str, str]:
    """The hidden inputs of the form posting to `action`."""
    start = html.index(f'action="{action}#')
    block = html[start : html.index("</form>", start)]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', block))
