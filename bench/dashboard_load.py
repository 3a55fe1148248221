"""The office campaign page under concurrent load: N office clients at once against the real
server (`python -m dondoc serve`, one uvicorn process) on loopback, each logged in with its own
session, on the campaign of dashboard_bench.py (10 000 units by default).

    .venv/bin/python bench/dashboard_load.py [--units 10000] [--clients 20] [--requests 40]
    .venv/bin/python bench/dashboard_load.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test

--url is a PostgreSQL server's admin URL: a throw-away database is created beside it and dropped
afterwards (default: a fresh SQLite file). --workers N runs `dondoc serve --workers N`.
--submit-every S records a report every S seconds during the run (in the database, as an
upload or the Prefect worker would): each is a change every server process must show on the
next page view, so each costs every process a rebuild of the campaign's snapshot.

Each client sends its requests one after the other, without pause (a closed loop: the server
always has N requests in hand), cycling through four kinds of page, its own starting kind so that
every kind is asked for concurrently. Each client connects from its own loopback address
(127.0.0.2 …), as each office computer would: the login limit counts per address. Before the
timed run, client 0 asks once for each kind and every client once for the campaign page, so that
every server process has compiled its templates and built its snapshot. Prints p50/p95/max per
kind and overall, and the throughput. Bounded in requests and in time (--max-seconds); loopback
only."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from dashboard_bench import NOW, PAGES, build
from sqlalchemy import Engine, create_engine, text
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from dondoc.accounts import create_user
from dondoc.db import make_engine, session_scope
from dondoc.intake import record_submission
from dondoc.migrate import upgrade
from models import Assignment, Submission
from models.enums import Channel

CAMPAIGN_URL = "/office/c/bench"
KINDS = {
    "page 1": PAGES["first page"],
    "page 100": PAGES["page 100"],
    "status=overdue, page 5": PAGES["status=overdue, page 5"],
    "search 'cong ty 12'": PAGES["search 'cong ty 12'"],
}
USERNAME, PASSWORD = "bench", "bench-password"
GOAL_P95_MS = 150


@dataclass(frozen=True)
class Sample:
    kind: str
    ms: float
    status: int


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank, as in dashboard_bench.py."""
    return ordered[max(0, round(q * len(ordered)) - 1)]


# --- the database and the server ----------------------------------------------------------------


@contextmanager
def database(tmp: Path, admin_url: str | None) -> Iterator[str]:
    """A fresh SQLite file, or a throw-away PostgreSQL database next to `admin_url`."""
    if admin_url is None:
        yield f"sqlite:///{tmp}/bench.db"
        return
    name = f"dondoc_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str, units: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    build(engine, units)
    with Session(engine) as session:
        create_user(session, username=USERNAME, display_name="Bench", password=PASSWORD, now=NOW)
        session.commit()
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(tmp: Path, url: str, workers: int) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "dondoc", "serve", "--port", str(port)]
    command += ["--workers", str(workers)] if workers > 1 else []
    env = {**os.environ, "DONDOC_DATABASE_URL": url, "DONDOC_VAR_DIR": str(tmp)}
    with (tmp / "server.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited at start (see server.log)")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not start within 60 s")


# --- the clients --------------------------------------------------------------------------------


async def logged_in(base: str, n: int) -> httpx.AsyncClient:
    """Client n, from 127.0.0.(n + 2), with its own session cookie."""
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{n + 2}")
    client = httpx.AsyncClient(base_url=base, transport=transport, timeout=60)
    page = (await client.get("/office/login")).text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"username": USERNAME, "password": PASSWORD, "csrf_token": token, "next": "/office"}
    response = await client.post("/office/login", data=form)
    if response.status_code != 303:
        raise SystemExit(f"client {n}: login failed ({response.status_code})")
    return client


async def run_client(
    client: httpx.AsyncClient, n: int, requests: int, stop_at: float
) -> list[Sample]:
    kinds = list(KINDS.items())
    samples = []
    for i in range(requests):
        if time.monotonic() > stop_at:
            break
        kind, query = kinds[(n + i) % len(kinds)]
        start = time.perf_counter()
        try:
            status = (await client.get(CAMPAIGN_URL + query)).status_code
        except httpx.TransportError as exc:  # counted, and named in the report
            print(f"  client {n}: {type(exc).__name__} {exc}")
            status = 0
        samples.append(Sample(kind, (time.perf_counter() - start) * 1000, status))
    return samples


async def warm_up(sessions: list[httpx.AsyncClient]) -> None:
    for query in KINDS.values():  # templates compiled, caches filled…
        assert (await sessions[0].get(CAMPAIGN_URL + query)).status_code == 200
    warm = await asyncio.gather(*(c.get(CAMPAIGN_URL) for c in sessions))  # …in every process
    assert all(r.status_code == 200 for r in warm)


async def load(base: str, args: argparse.Namespace, url: str) -> list[Sample]:
    # Logged in together: logged in one by one, the first would sit idle past the server's
    # keep-alive timeout (5 s) while the last log in, and find its connection closed.
    sessions = list(await asyncio.gather(*(logged_in(base, n) for n in range(args.clients))))
    stop = asyncio.Event()
    try:
        await warm_up(sessions)
        writes = asyncio.create_task(submit_every(url, args.submit_every, stop))
        stop_at = time.monotonic() + args.max_seconds
        started = time.perf_counter()
        runs = [run_client(c, n, args.requests, stop_at) for n, c in enumerate(sessions)]
        results = await asyncio.gather(*runs)
        elapsed = time.perf_counter() - started
        stop.set()
        recorded = await writes
    finally:
        await asyncio.gather(*(c.aclose() for c in sessions))
    samples = [s for r in results for s in r]
    print(f"  {len(samples)} requests in {elapsed:.1f} s: {len(samples) / elapsed:.1f} req/s")
    if args.submit_every:
        print(f"  {recorded} reports recorded during the run")
    return samples


# --- writes during the run ----------------------------------------------------------------------


async def submit_every(url: str, seconds: float | None, stop: asyncio.Event) -> int:
    """Record a missing unit's report every `seconds` until `stop`; how many were recorded."""
    if not seconds:
        return 0
    engine = make_engine(url)
    try:
        missing, recorded = await asyncio.to_thread(missing_assignments, engine), 0
        while recorded < len(missing) and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
            if not stop.is_set():
                await asyncio.to_thread(record, engine, missing[recorded])
                recorded += 1
        return recorded
    finally:
        engine.dispose()


def missing_assignments(engine: Engine) -> list[int]:
    reported = select_columns(col(Submission.assignment_id))
    query = select_columns(col(Assignment.id)).where(col(Assignment.id).not_in(reported))
    with Session(engine) as session:
        return [int(i) for i in session.execute(query.order_by(col(Assignment.id))).scalars()]


def record(engine: Engine, assignment_id: int) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        assignment = session.get_one(Assignment, assignment_id)
        record_submission(
            session, assignment=assignment, received_at=now, channel=Channel.EMAIL,
            recorded_by="bench", now=now,
        )  # fmt: skip


def report(samples: list[Sample]) -> None:
    print(f"  {'page':28} {'n':>5} {'p50':>7} {'p95':>7} {'max':>7}")
    for kind in [*KINDS, "overall"]:
        ms = sorted(s.ms for s in samples if kind in ("overall", s.kind))
        if ms:
            p50, p95 = percentile(ms, 0.5), percentile(ms, 0.95)
            print(f"  {kind:28} {len(ms):5} {p50:7.1f} {p95:7.1f} {ms[-1]:7.1f}")
    failed = [s for s in samples if s.status != 200]
    overall = percentile(sorted(s.ms for s in samples), 0.95)
    verdict = "met" if overall < GOAL_P95_MS else "NOT met"
    print(f"  non-200 responses: {len(failed)}; goal p95 < {GOAL_P95_MS} ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=20, help="at most 200")
    parser.add_argument("--requests", type=int, default=40, help="per client")
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--url", default=None, help="PostgreSQL admin URL (default: SQLite)")
    parser.add_argument("--submit-every", type=float, default=None, help="seconds")
    args = parser.parse_args()
    if not 1 <= args.clients <= 200:
        parser.error("--clients: 1 to 200")
    with tempfile.TemporaryDirectory() as name, database(Path(name), args.url) as url:
        tmp = Path(name)
        prepare(url, args.units)
        with server(tmp, url, args.workers) as base:
            backend = url.split(":", 1)[0].split("+", 1)[0]
            print(f"{backend}, {args.units} units, {args.clients} clients x {args.requests} "
                  f"requests, {args.workers} server process(es): ms per request")  # fmt: skip
            report(asyncio.run(load(base, args, url)))


if __name__ == "__main__":
    main()
