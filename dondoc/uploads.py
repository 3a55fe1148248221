"""Checks on the files units upload: the type told by the content (magic bytes), not only by the
name; safe display names; size limits, the request body's enforced while it is being read.

Nothing here writes to the store: a caller checks every file (and every figure) of a submission
first and stores the files only when all of it passed, so a refused upload leaves nothing."""

from __future__ import annotations

import unicodedata
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, ClassVar

from dondoc.storage import StoredFile, store

MB = 1024 * 1024
MAX_NAME_CHARS = 255  # SubmissionFile.name
# Enough of an OOXML / ODF package's index to find its type; never decompress more than this.
_INDEX_BYTES = MB


class Kind(StrEnum):
    PDF = "pdf"
    OLE2 = "ole2"  # legacy Office: doc and xls share one container format
    DOCX = "docx"
    XLSX = "xlsx"
    ODT = "odt"
    PNG = "png"
    JPEG = "jpeg"


# extension -> (the content it must have, the content type recorded for downloads)
ALLOWED: dict[str, tuple[Kind, str]] = {
    "pdf": (Kind.PDF, "application/pdf"),
    "doc": (Kind.OLE2, "application/msword"),
    "xls": (Kind.OLE2, "application/vnd.ms-excel"),
    "docx": (
        Kind.DOCX,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "xlsx": (Kind.XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "odt": (Kind.ODT, "application/vnd.oasis.opendocument.text"),
    "png": (Kind.PNG, "image/png"),
    "jpg": (Kind.JPEG, "image/jpeg"),
    "jpeg": (Kind.JPEG, "image/jpeg"),
}
ACCEPT_ATTRIBUTE = ",".join(f".{ext}" for ext in ALLOWED)

_MAGIC: tuple[tuple[bytes, Kind], ...] = (
    (b"%PDF-", Kind.PDF),
    (bytes.fromhex("d0cf11e0a1b11ae1"), Kind.OLE2),
    (b"\x89PNG\r\n\x1a\n", Kind.PNG),
    (b"\xff\xd8\xff", Kind.JPEG),
)
_ZIP_MAGIC = b"PK\x03\x04"
_OOXML_MAIN = {
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": (
        Kind.DOCX
    ),
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": Kind.XLSX,
}
_ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"

# (English for logs, Vietnamese for the unit's page)
MESSAGES: dict[str, tuple[str, str]] = {
    "no_name": (
        "a file has no name",
        "Có tệp tải lên không có tên. Vui lòng đặt tên tệp rồi gửi lại.",
    ),
    "bad_name": (
        "{name!r} is not a usable file name",
        "Tên tệp “{name}” không hợp lệ. Vui lòng đổi tên tệp rồi gửi lại.",
    ),
    "bad_type": (
        "{name}: file type not accepted",
        "Tệp “{name}” không thuộc loại được nhận. Đơn vị vui lòng gửi tệp Word (doc, docx), "
        "PDF, Excel (xls, xlsx), OpenDocument (odt) hoặc ảnh chụp (jpg, png).",
    ),
    "bad_content": (
        "{name}: the content is not a {ext} file",
        "Nội dung tệp “{name}” không phải là tệp {ext} hợp lệ (tệp có thể đã bị đổi đuôi hoặc "
        "bị hỏng). Vui lòng kiểm tra lại tệp.",
    ),
    "empty": ("{name}: the file is empty", "Tệp “{name}” không có nội dung (0 byte)."),
    "too_large": (
        "{name}: larger than {limit}",
        "Tệp “{name}” vượt quá dung lượng cho phép ({limit} mỗi tệp).",
    ),
    "body_too_large": (
        "the request body is larger than {limit}",
        "Dữ liệu gửi lên vượt quá giới hạn cho phép ({limit}). Mỗi tệp không được lớn hơn "
        "{file_limit}.",
    ),
    "too_many_files": (
        "more than {count} files",
        "Mỗi lần nộp được gửi tối đa {count} tệp báo cáo.",
    ),
    "bad_form": (
        "malformed form data",
        "Dữ liệu gửi lên không hợp lệ. Vui lòng tải lại trang rồi gửi lại.",
    ),
}


class UploadError(Exception):
    """A refused upload; `vietnamese()` is the message for the unit's page."""

    messages: ClassVar[dict[str, tuple[str, str]]] = MESSAGES

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(self.messages[code][0].format(**params))
        self.code, self.params = code, params

    def english(self) -> str:
        return self.messages[self.code][0].format(**self.params)

    def vietnamese(self) -> str:
        return self.messages[self.code][1].format(**self.params)


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed every check, still in its temporary spool."""

    name: str
    kind: Kind
    content_type: str
    size: int
    stream: BinaryIO = field(repr=False)


def safe_name(raw: str | None) -> str:
    """The name to show and record: the last path component only (a browser may send
    'C:\\…\\bao-cao.pdf'; a crafted form '../../etc/passwd'), without control characters.
    The name never reaches the file system: files are stored under their SHA-256."""
    text = unicodedata.normalize("NFC", raw or "").replace("\\", "/")
    name = text.rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if not name and not text.strip():
        raise UploadError("no_name")
    if not name or name.startswith("."):
        raise UploadError("bad_name", name=name or text.strip()[:80])
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        keep = MAX_NAME_CHARS - len(dot + ext)
        name = stem[:keep] + dot + ext if dot and keep > 0 else name[:MAX_NAME_CHARS]
    return name


def extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def sniff(stream: BinaryIO) -> Kind | None:
    """What the content is, from its first bytes (and a ZIP package's own type entries)."""
    stream.seek(0)
    head = stream.read(8)
    stream.seek(0)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(_ZIP_MAGIC):
        return _package_kind(stream)
    return None


def _package_kind(stream: BinaryIO) -> Kind | None:
    # docx, xlsx and odt are all ZIP files: their declared main part tells them apart.
    try:
        with zipfile.ZipFile(stream) as package:
            names = set(package.namelist())
            if "mimetype" in names:
                with package.open("mimetype") as entry:
                    return Kind.ODT if entry.read(100).strip() == _ODT_MIMETYPE else None
            if "[Content_Types].xml" in names:
                with package.open("[Content_Types].xml") as entry:
                    index = entry.read(_INDEX_BYTES)
                found = {kind for marker, kind in _OOXML_MAIN.items() if marker in index}
                return found.pop() if len(found) == 1 else None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError):
        return None
    finally:
        stream.seek(0)
    return None


def check_file(raw_name: str | None, stream: BinaryIO, *, max_bytes: int) -> CheckedFile:
    """Name, type by extension, emptiness, size, then the content against the extension."""
    name = safe_name(raw_name)
    allowed = ALLOWED.get(extension(name))
    if allowed is None:
        raise UploadError("bad_type", name=name)
    size = stream.seek(0, 2)
    stream.seek(0)
    if size == 0:
        raise UploadError("empty", name=name)
    if size > max_bytes:
        raise UploadError("too_large", name=name, limit=size_limit_text(max_bytes))
    kind, content_type = allowed
    if sniff(stream) is not kind:
        raise UploadError("bad_content", name=name, ext=extension(name).upper())
    return CheckedFile(name=name, kind=kind, content_type=content_type, size=size, stream=stream)


def check_files(
    parts: Sequence[tuple[str | None, BinaryIO]], *, max_bytes: int, max_files: int
) -> list[CheckedFile]:
    """Check (name, stream) pairs: all of them pass, or the first refusal is raised."""
    if len(parts) > max_files:
        raise UploadError("too_many_files", count=str(max_files))
    return [check_file(name, stream, max_bytes=max_bytes) for name, stream in parts]


def size_limit_text(limit: int) -> str:
    """'20 MB', or '512 KB' for a limit below a megabyte."""
    return f"{limit // MB} MB" if limit >= MB else f"{max(1, limit // 1024)} KB"


def body_too_large(max_bytes: int, max_file_bytes: int) -> UploadError:
    return UploadError(
        "body_too_large",
        limit=size_limit_text(max_bytes),
        file_limit=size_limit_text(max_file_bytes),
    )


def body_limit(max_file_bytes: int, max_files: int) -> int:
    """The largest request body worth reading: every file at the limit, plus the form fields."""
    return max_file_bytes * max_files + MB


async def limit_stream(
    chunks: AsyncIterator[bytes], *, max_bytes: int, max_file_bytes: int
) -> AsyncGenerator[bytes, None]:
    """Pass a request body through, refusing it as soon as it grows past `max_bytes`: the rest
    of an oversized upload is never read."""
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > max_bytes:
            raise body_too_large(max_bytes, max_file_bytes)
        yield chunk


def store_checked(root: Path, files: Sequence[CheckedFile]) -> list[StoredFile]:
    """Write the checked files durably (temporary name, fsync, rename; see dondoc.storage)."""
    stored = []
    for f in files:
        f.stream.seek(0)
        stored.append(store(root, f.name, f.stream))
    return stored
