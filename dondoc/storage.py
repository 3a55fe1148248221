"""Durable, content-addressed file storage for submitted reports.

A file is written under a temporary name, fsynced, then renamed into place (atomic on POSIX),
so a crash leaves either the whole file or nothing under its final name. Callers commit the
database row only after store() returns: a row never points at a missing file."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
TEMPORARY_PREFIX = ".upload-"


class FileTooLargeError(ValueError):
    pass


@dataclass(frozen=True)
class StoredFile:
    name: str  # as the unit named it (display only)
    size: int
    sha256: str
    storage_path: str  # relative to the storage root


def store(root: Path, name: str, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredFile:
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=root)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise FileTooLargeError(f"larger than {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        relative = Path(sha[:2]) / sha
        final = root / relative
        final.parent.mkdir(exist_ok=True)
        tmp.replace(final)  # same content, same name: replacing is harmless
        _fsync_dir(final.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return StoredFile(name=name, size=size, sha256=sha, storage_path=str(relative))


def store_path(root: Path, source: Path, *, max_bytes: int | None = None) -> StoredFile:
    with source.open("rb") as stream:
        return store(root, source.name, stream, max_bytes=max_bytes)


def sweep_temporary(
    root: Path, older_than: timedelta, *, now: datetime | None = None
) -> list[Path]:
    """Remove the temporary files a killed process left in `root` (its write never reached the
    rename, so no row points at them); return what was removed.

    Only files untouched for `older_than` go: a write in progress, in this process or another
    one sharing the store, keeps its file's modification time fresh."""
    cutoff = ((now or datetime.now(UTC)) - older_than).timestamp()
    removed = []
    for path in root.glob(TEMPORARY_PREFIX + "*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # another process swept it first
            continue
    return removed


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
