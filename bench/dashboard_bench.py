"""The office campaign page at scale: full HTTP requests (login, session, CSRF, template) through
the real app on a campaign of N units, timed per request.

    .venv/bin/python bench/dashboard_bench.py [--units 10000] [--runs 30]
    .venv/bin/python bench/dashboard_bench.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/test

Builds the campaign in a fresh SQLite file (or a throw-away PostgreSQL database created through
the admin URL given, dropped afterwards): units spread over 5 sectors and 10 wards, about 70 %
on time, 12 % late, 5 % returned (half of them corrected), 2 % exempt, the rest missing, five
figures per report. Prints p50/p95 per kind of page and the time of the XLSX export."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, text
from sqlmodel import Session

from dondoc.accounts import create_user
from dondoc.db import get_engine
from dondoc.migrate import upgrade
from dondoc.settings import get_settings
from models import Assignment, Campaign, IndicatorValue, Requirement, Submission, Unit
from web.app import create_app
from web.deps import get_now

DUE = datetime(2015, 11, 24, 17, 0, tzinfo=UTC)  # end of 24/11/2015 in Hồ Chí Minh City
NOW = datetime(2015, 11, 26, 2, 0, tzinfo=UTC)
SECTORS = ["state", "non_state", "fdi", "public_service", "administrative"]
WARD_NAMES = "Bến Nghé, Bến Thành, Cầu Kho, Cầu Ông Lãnh, Cô Giang, Đa Kao, Tân Định"
WARDS = [f"Phường {name}" for name in WARD_NAMES.split(", ")]
PAGES = {
    "first page": "",
    "page 100": "?page=100",
    "status=overdue, page 5": "?status=overdue&page=5",
    "status+sector+ward": f"?status=on_time&sector=fdi&ward={WARDS[2]}",
    "search 'cong ty 12'": "?q=cong+ty+12",
    "search, matches all": "?q=cdcs",
}


def build(engine: Any, n: int) -> None:
    rng = random.Random(n)
    with engine.begin() as conn:
        conn.execute(insert(Unit), [{"code": "LDLD", "name": "Liên đoàn Lao động quận",
                                     "kind": "federation", "calendar": "mon_fri"}])  # fmt: skip
        conn.execute(insert(Unit), [_unit(i, rng) for i in range(n)])
        conn.execute(insert(Campaign), [{
            "code": "bench", "doc_number": "01/KH-LĐLĐ", "doc_year": 2015, "issuer_unit_id": 1,
            "issued_on": date(2015, 11, 2), "title": "Sơ kết (bench)", "status": "active",
            "milestones": [],
        }])  # fmt: skip
        conn.execute(insert(Requirement), [{
            "campaign_id": 1, "code": "cdcs", "position": 0, "title": "Báo cáo sơ kết",
            "group_label": "CĐCS trực thuộc", "selector": {}, "submit_to_unit_id": 1,
            "consolidator_unit_id": 1, "due_text": "đến hết ngày 24/11/2015",
            "due_date": date(2015, 11, 24), "due_at": DUE, "review_required": True,
            "report_up": False, "indicator_keys": [], "outline": [],
        }])  # fmt: skip
        conn.execute(insert(Assignment), [
            {"requirement_id": 1, "unit_id": i + 2, "exempt": rng.random() < 0.02,
             "deadline_version": 0} for i in range(n)
        ])  # fmt: skip
        submissions = list(_submissions(rng, n))
        conn.execute(insert(Submission), submissions)
        conn.execute(insert(IndicatorValue), list(_figures(len(submissions))))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))  # what autovacuum does soon after a bulk load


def _unit(i: int, rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["Công ty TNHH", "Trường", "Ủy ban nhân dân phường", "Công ty Cổ phần"])
    return {
        "code": f"CD{i:06d}", "name": f"CĐCS {kind} số {i}", "kind": "grassroots_union",
        "calendar": "mon_fri", "parent_id": 1, "sector": rng.choice(SECTORS),
        "ward": rng.choice(WARDS),
    }  # fmt: skip


def _submissions(rng: random.Random, n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        roll = rng.random()
        if roll < 0.11:
            continue  # missing
        late = roll > 0.81
        at = DUE + timedelta(hours=rng.randint(0, 30) if late else -rng.randint(1, 200))
        returned = 0.76 <= roll < 0.81
        yield {"assignment_id": i + 1, "version": 1, "received_at": at, "channel": "portal",
               "review_state": "returned" if returned else "accepted"}  # fmt: skip
        if returned and roll < 0.785:
            yield {"assignment_id": i + 1, "version": 2, "received_at": at + timedelta(hours=20),
                   "channel": "email", "review_state": "received"}  # fmt: skip


def _figures(submissions: int) -> Iterator[dict[str, Any]]:
    for sid in range(1, submissions + 1):
        for key in ("so_cnvcld", "so_doan_vien", "so_doan_vien_nu", "dv_ket_nap_moi", "mai_am"):
            yield {"submission_id": sid, "key": key, "num_value": Decimal(sid % 997)}


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure(units: int, runs: int) -> None:
    engine = get_engine()
    upgrade(engine)
    build(engine, units)
    with Session(engine) as session:
        create_user(session, username="bench", display_name="Bench", password="bench-password",
                    now=NOW)  # fmt: skip
        session.commit()
    app = create_app()
    app.dependency_overrides[get_now] = lambda: NOW
    with TestClient(app) as client:
        page = client.get("/office/login").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/office/login", data={"username": "bench", "password": "bench-password",
                                           "csrf_token": token})  # fmt: skip
        print(f"{engine.dialect.name}, {units} units: ms per request")
        print(f"  {'page':28} {'p50':>7} {'p95':>7} {'max':>7}")
        for name, query in PAGES.items():
            url = f"/office/c/bench{query}"
            assert client.get(url).status_code == 200
            times = sorted(timed(lambda url=url: client.get(url), runs))  # type: ignore[misc]
            p95 = times[max(0, round(0.95 * len(times)) - 1)]
            print(f"  {name:28} {statistics.median(times):7.1f} {p95:7.1f} {times[-1]:7.1f}")
        export = timed(lambda: client.get("/office/c/bench/export.xlsx"), 1)[0]
        print(f"  {'export.xlsx (all, once)':28} {export:7.1f}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pg", default=None, help="PostgreSQL admin URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DONDOC_VAR_DIR"] = tmp
        if args.pg is None:
            os.environ["DONDOC_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
            measure(args.units, args.runs)
            return
        name = f"dondoc_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        os.environ["DONDOC_DATABASE_URL"] = args.pg.rsplit("/", 1)[0] + f"/{name}"
        try:
            get_settings.cache_clear()
            measure(args.units, args.runs)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
