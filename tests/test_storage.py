"""Content-addressed storage of submitted files: right hash and size, one file per content,
and nothing left behind when a file is refused or a stream breaks."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dondoc.storage import (
    CHUNK,
    FileTooLargeError,
    StoredFile,
    store,
    store_path,
    sweep_temporary,
)

NOW = datetime(2015, 11, 24, 9, 0, tzinfo=UTC)
CONTENT = "Báo cáo sơ kết 10 năm thực hiện Chỉ thị 22-CT/TW\n".encode() * 100


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


class BreakingStream(io.BytesIO):
    """Gives one chunk, then fails like a dropped upload."""

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell() > 0:
            raise ConnectionResetError("client went away")
        return super().read(size)


def test_it_stores_the_file_under_its_sha256_with_its_size(tmp_path: Path) -> None:
    root = tmp_path / "files"
    stored = store(root, "bao-cao.docx", io.BytesIO(CONTENT))
    sha = hashlib.sha256(CONTENT).hexdigest()
    assert stored == StoredFile(
        name="bao-cao.docx", size=len(CONTENT), sha256=sha, storage_path=f"{sha[:2]}/{sha}"
    )
    assert (root / stored.storage_path).read_bytes() == CONTENT
    assert files_under(root) == [root / sha[:2] / sha]


def test_store_path_names_the_file_after_the_source(tmp_path: Path) -> None:
    source = tmp_path / "Báo cáo CĐCS.pdf"
    source.write_bytes(CONTENT)
    stored = store_path(tmp_path / "files", source)
    assert (stored.name, stored.size) == ("Báo cáo CĐCS.pdf", len(CONTENT))
    assert stored.sha256 == hashlib.sha256(CONTENT).hexdigest()


def test_a_file_larger_than_one_chunk_is_hashed_whole(tmp_path: Path) -> None:
    content = bytes(range(256)) * (CHUNK // 256 * 2 + 3)
    stored = store(tmp_path, "big.bin", io.BytesIO(content))
    assert (stored.size, stored.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert (tmp_path / stored.storage_path).read_bytes() == content


def test_storing_the_same_content_twice_keeps_one_file(tmp_path: Path) -> None:
    first = store(tmp_path, "lan-1.docx", io.BytesIO(CONTENT))
    second = store(tmp_path, "lan-2.docx", io.BytesIO(CONTENT))
    assert second.storage_path == first.storage_path
    assert (first.name, second.name) == ("lan-1.docx", "lan-2.docx")
    assert files_under(tmp_path) == [tmp_path / first.storage_path]


def test_an_empty_file_is_stored(tmp_path: Path) -> None:
    stored = store(tmp_path, "trong.txt", io.BytesIO(b""))
    assert (stored.size, stored.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert (tmp_path / stored.storage_path).read_bytes() == b""


def test_a_file_of_exactly_max_bytes_is_accepted(tmp_path: Path) -> None:
    stored = store(tmp_path, "vua-du.pdf", io.BytesIO(CONTENT), max_bytes=len(CONTENT))
    assert stored.size == len(CONTENT)


@pytest.mark.parametrize("content", [CONTENT, bytes(CHUNK + 10)], ids=["small", "over-a-chunk"])
def test_a_file_over_max_bytes_is_refused_and_leaves_nothing(
    tmp_path: Path, content: bytes
) -> None:
    root = tmp_path / "files"
    with pytest.raises(FileTooLargeError, match=f"larger than {len(content) - 1} bytes"):
        store(root, "qua-lon.pdf", io.BytesIO(content), max_bytes=len(content) - 1)
    assert list(root.iterdir()) == []


def test_a_stream_that_breaks_midway_leaves_no_temporary_file(tmp_path: Path) -> None:
    root = tmp_path / "files"
    with pytest.raises(ConnectionResetError):
        store(root, "dang-do.pdf", BreakingStream(bytes(CHUNK + 10)))
    assert list(root.iterdir()) == []


def test_a_failure_after_a_good_file_leaves_the_good_file_alone(tmp_path: Path) -> None:
    kept = store(tmp_path, "tot.pdf", io.BytesIO(CONTENT))
    with pytest.raises(FileTooLargeError):
        store(tmp_path, "qua-lon.pdf", io.BytesIO(CONTENT + b"x"), max_bytes=len(CONTENT))
    assert files_under(tmp_path) == [tmp_path / kept.storage_path]
    assert not list(tmp_path.glob(".upload-*"))


def leftover(root: Path, name: str, age: timedelta) -> Path:
    """A temporary file as a killed upload leaves it, last written `age` before NOW."""
    path = root / name
    path.write_bytes(CONTENT[:100])
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_sweeping_removes_only_temporary_files_older_than_the_limit(tmp_path: Path) -> None:
    kept = store(tmp_path, "tot.pdf", io.BytesIO(CONTENT))
    old = leftover(tmp_path, ".upload-old", timedelta(hours=2))
    fresh = leftover(tmp_path, ".upload-fresh", timedelta(minutes=5))
    other = leftover(tmp_path, "upload-not-temporary", timedelta(days=3))

    removed = sweep_temporary(tmp_path, timedelta(hours=1), now=NOW)

    assert removed == [old]
    assert files_under(tmp_path) == sorted([fresh, other, tmp_path / kept.storage_path])


def test_sweeping_leaves_directories_alone(tmp_path: Path) -> None:
    (tmp_path / ".upload-dir").mkdir()
    stamp = (NOW - timedelta(days=1)).timestamp()
    os.utime(tmp_path / ".upload-dir", (stamp, stamp))
    assert sweep_temporary(tmp_path, timedelta(hours=1), now=NOW) == []
    assert (tmp_path / ".upload-dir").is_dir()


def test_sweeping_a_store_that_does_not_exist_yet_does_nothing(tmp_path: Path) -> None:
    assert sweep_temporary(tmp_path / "files", timedelta(hours=1), now=NOW) == []
