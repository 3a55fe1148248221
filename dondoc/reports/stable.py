"""Same input, same bytes. XLSX and DOCX files are zip archives, and zipfile stamps every entry
with the current time; the libraries also write the current time into docProps/core.xml (the
builders set it to the report date instead). Versions of a consolidation can then be compared
byte for byte."""

from __future__ import annotations

import datetime as dt
import io
import zipfile


def stable_zip(data: bytes, moment: dt.datetime) -> bytes:
    """The same archive with every entry stamped `moment` (same order, same content)."""
    stamp = (max(moment.year, 1980), moment.month, moment.day, 0, 0, 0)  # zip dates start in 1980
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            entry = zipfile.ZipInfo(item.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(item.filename))
    return out.getvalue()
