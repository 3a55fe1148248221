"""The server process killed (SIGKILL) during an upload: in the middle of the request body, and
at random moments after it, racing the checks, the file writes and the commit. Afterwards every
file row points at a whole file, no stored file is half written, the leftovers of unfinished
writes are temporary files nothing refers to (swept at start once stale), every upload the
server acknowledged is still there, and the restarted server takes new reports.

The server is the real `python -m dondoc serve` in a subprocess, on SQLite (killing a process
exercises the file store and SQLite's own recovery; PostgreSQL runs in its own process and is
not killed here). Its clock is the real one: the seed plan's deadlines have long passed, so
the plan is loaded without its hard close (reports are taken late, never refused)."""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from dondoc.db import get_engine
from dondoc.links import issue_link
from dondoc.plans.loader import load_plan
from dondoc.rules.deadlines import VN_TZ
from dondoc.settings import get_settings
from dondoc.storage import TEMPORARY_PREFIX
from models import Campaign, Submission, SubmissionFile, Unit
from tests.support.files import SEED, copy_examples, replace_once
from tests.support.server import free_port
from tests.support.uploads import PDF, form_inputs

CAMPAIGN, UNIT, REQUIREMENT = "q1-so-ket-2015", "Q1-CD001", "cdcs"
SIZE = 8 * 1024 * 1024
CHUNK = 64 * 1024
RANDOM = 4  # kills at random moments after the body was sent; each costs a restart (~2 s)

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@dataclass
class Server:
    """`python -m dondoc serve` in a subprocess, killed with SIGKILL, started again."""

    workdir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "server.log"

    def start(self) -> None:
        self.port, self.starts = free_port(), self.starts + 1
        command = [sys.executable, "-m", "dondoc", "serve", "--port", str(self.port)]
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            # cwd: no stray .env; the environment is the test's (DONDOC_* set by `env`).
            self.process = subprocess.Popen(command, cwd=self.workdir, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited:\n{self.log.read_text()}"
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"the server did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # SIGKILL: no shutdown hook, no cleanup, nothing flushed
            self.process.wait(timeout=10)


@dataclass
class Upload:
    """One multipart POST of a report of SIZE bytes with its own content and retry key."""

    path: str
    fields: dict[str, str]
    content: bytes = field(default_factory=lambda: PDF + os.urandom(SIZE - len(PDF)))
    boundary: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def key(self) -> str:
        return self.fields["idempotency_key"]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def body(self) -> bytes:
        parts = [
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
            for name, value in self.fields.items()
        ]
        parts.append(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="bao-cao.pdf"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
        )
        return b"".join([*parts, self.content, f"\r\n--{self.boundary}--\r\n".encode()])

    def head(self, port: int, length: int) -> bytes:
        return (
            f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={self.boundary}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
        ).encode()


@dataclass
class Site:
    server: Server
    token: str
    storage: Path

    @property
    def page_url(self) -> str:
        return f"/u/{self.token}"

    def upload(self) -> Upload:
        """A new upload with the form's hidden fields as the unit's page serves them now."""
        action = f"{self.page_url}/submit/{REQUIREMENT}"
        page = httpx.get(self.server.base + self.page_url, timeout=10)
        assert page.status_code == 200, page.text
        fields = {**form_inputs(page.text, action), "fig_so_doan_vien": "1.250"}
        fields["idempotency_key"] = secrets.token_urlsafe(16)
        return Upload(action, fields)


def seed(tmp_path: Path) -> str:
    at = datetime(2015, 11, 5, 9, 0, tzinfo=VN_TZ)
    plan = copy_examples(tmp_path) / SEED
    replace_once(plan, "hard_close: 27/11/2015 17:00", "")
    with Session(get_engine()) as session:
        load_plan(session, plan, now=at, actor="test", tz=VN_TZ)
        campaign = session.exec(select(Campaign).where(Campaign.code == CAMPAIGN)).one()
        unit = session.exec(select(Unit).where(Unit.code == UNIT)).one()
        token = issue_link(
            session,
            campaign_id=campaign.id or 0,
            unit_id=unit.id or 0,
            secret=get_settings().secret(),
            by="test",
            now=at,
        )
        session.commit()
    return token


@pytest.fixture
def site(env: str, tmp_path: Path) -> Iterator[Site]:
    server = Server(tmp_path)
    site = Site(server, seed(tmp_path), get_settings().effective_storage_dir)
    server.start()
    try:
        yield site
    finally:
        server.kill()


# --- sending, and what the database and the store hold afterwards -----------------------------


def send(port: int, upload: Upload, *, stop_after: int | None = None) -> socket.socket:
    """Open a connection and send the request; only the first `stop_after` bytes of the body,
    slowly, if given (the caller kills the server while the rest is still to come)."""
    body = upload.body()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(upload.head(port, len(body)))
    if stop_after is None:
        sock.sendall(body)
        return sock
    for start in range(0, stop_after, CHUNK):
        sock.sendall(body[start : min(start + CHUNK, stop_after)])
        time.sleep(0.002)
    return sock


def status_of(sock: socket.socket) -> int | None:
    """The response's status code, or None if the connection died without one."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except OSError:  # reset by the dying server
        pass
    finally:
        sock.close()
    first = received.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) > 1 and received.startswith(b"HTTP/1.1") else None


def submitted_keys() -> set[str]:
    with Session(get_engine()) as session:
        keys = session.exec(select(Submission.idempotency_key)).all()
    return {k for k in keys if k}


def file_rows() -> list[SubmissionFile]:
    with Session(get_engine()) as session:
        return list(session.exec(select(SubmissionFile).order_by(col(SubmissionFile.id))))


def assert_store_consistent(root: Path) -> list[Path]:
    """Every row's file whole; every stored file named by its content; return the temporary
    leftovers (none of which a row points at)."""
    rows = file_rows()
    for row in rows:
        path = root / row.storage_path
        assert path.is_file(), f"row {row.id} points at a missing file {row.storage_path}"
        content = path.read_bytes()
        assert (len(content), hashlib.sha256(content).hexdigest()) == (row.size, row.sha256)
        assert path.name == row.sha256
    leftovers = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.startswith(TEMPORARY_PREFIX):
            assert path.parent == root, f"a temporary file outside the store's root: {path}"
            leftovers.append(path)
            continue
        assert path.name == hashlib.sha256(path.read_bytes()).hexdigest(), f"half written: {path}"
        assert path.parent.name == path.name[:2]
    referenced = {row.storage_path for row in rows}
    assert not referenced & {str(p.relative_to(root)) for p in leftovers}
    return leftovers


def stored_under(root: Path, sha256: str) -> bool:
    return (root / sha256[:2] / sha256).exists()


def assert_the_server_still_takes_reports(site: Site) -> None:
    upload = site.upload()  # the unit's page, with its form
    status = status_of(send(site.server.port, upload))
    assert status == 303, site.server.log.read_text()[-3000:]
    assert upload.key in submitted_keys() and stored_under(site.storage, upload.sha256)
    assert_store_consistent(site.storage)


# When to kill, once the whole body is sent: (store root, the upload, temporary files before).
Moment = Callable[[Path, Upload, set[Path]], None]


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.0005)


def writing(root: Path, upload: Upload, before: set[Path]) -> None:
    """As soon as the server starts writing the file (its temporary file appears)."""
    wait_until(lambda: bool(set(root.glob(TEMPORARY_PREFIX + "*")) - before))


def renamed(root: Path, upload: Upload, before: set[Path]) -> None:
    """As soon as the file is in place under its final name: racing the commit."""
    wait_until(lambda: stored_under(root, upload.sha256))


def sleeping(seconds: float) -> Moment:
    def moment(root: Path, upload: Upload, before: set[Path]) -> None:
        time.sleep(seconds)

    return moment


def plant_stale_temporary(root: Path, age: timedelta) -> Path:
    """A temporary file as a server killed `age` ago would have left it."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{TEMPORARY_PREFIX}planted"
    path.write_bytes(PDF)
    stamp = (datetime.now(UTC) - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


# --- the tests --------------------------------------------------------------------------------


def test_a_kill_in_the_middle_of_the_body_stores_nothing_and_the_restarted_server_takes_reports(
    site: Site,
) -> None:
    upload = site.upload()
    sock = send(site.server.port, upload, stop_after=SIZE // 2)
    site.server.kill()
    assert status_of(sock) is None

    assert submitted_keys() == set()
    assert file_rows() == []
    assert not stored_under(site.storage, upload.sha256)
    assert assert_store_consistent(site.storage) == []

    site.server.start()
    assert_the_server_still_takes_reports(site)


def test_kills_racing_the_checks_writes_and_commit_never_leave_a_row_without_its_file(
    site: Site,
) -> None:
    # A normal upload first: how long the server takes to answer once the body is sent.
    first = site.upload()
    sock = send(site.server.port, first)
    started = time.monotonic()
    assert status_of(sock) == 303
    work = time.monotonic() - started
    stale = plant_stale_temporary(site.storage, timedelta(hours=2))
    rng = random.Random(2015)
    randomly = [sleeping(rng.uniform(0, 1.2) * work) for _ in range(RANDOM)]
    moments: list[Moment] = [writing, renamed, *randomly]
    acknowledged, outcomes = {first.key}, []
    for moment in moments:
        upload = site.upload()
        before = set(site.storage.glob(TEMPORARY_PREFIX + "*"))
        sock = send(site.server.port, upload)
        moment(site.storage, upload, before)
        site.server.kill()
        status = status_of(sock)
        if status == 303:
            acknowledged.add(upload.key)
        leftovers = assert_store_consistent(site.storage)
        outcomes.append((status, upload.key in submitted_keys(), len(leftovers)))
        site.server.start()  # the first start sweeps the stale file (untouched for an hour)

    assert not stale.exists()
    assert_store_consistent(site.storage)
    assert acknowledged <= submitted_keys(), f"an acknowledged report was lost: {outcomes}"
    print("kills after the body (status, committed, temporary files left):", outcomes)
    assert_the_server_still_takes_reports(site)
