"""The units' submitted documents in one zip, a folder per unit named by its code and name, so
the office opens one archive instead of 56 emails. Deterministic like the other outputs."""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable

_UNSAFE = re.compile(r"[^\w.\- ]+")


def folder_name(code: str, name: str) -> str:
    """ "Q1-CD001 - CĐCS Ủy ban nhân dân phường Bến Nghé": Vietnamese kept (zip names are
    UTF-8), path separators and control characters dropped."""
    return _safe(f"{code} - {name}")


def build_archive(entries: Iterable[tuple[str, str, bytes]], moment: dt.datetime) -> bytes:
    """(folder, file name, content) in, one zip out; a name used twice in a folder gets a
    numbered suffix instead of overwriting the first file."""
    stamp = (max(moment.year, 1980), moment.month, moment.day, 0, 0, 0)
    seen: set[str] = set()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, name, data in entries:
            path = _unique(f"{folder}/{_safe(name) or 'tep'}", seen)
            entry = zipfile.ZipInfo(path, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    return out.getvalue()


def _safe(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("/", "-").replace("\\", "-")
    return _UNSAFE.sub("_", text).strip(" .")[:150]


def _unique(path: str, seen: set[str]) -> str:
    stem, dot, ext = path.rpartition(".")
    if not dot or "/" in ext:
        stem, ext = path, ""
    candidate, n = path, 1
    while candidate in seen:
        n += 1
        candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
    seen.add(candidate)
    return candidate
