"""Planning reminders at scale: one tick of dondoc.remindrun.plan_and_enqueue (plan every
assignment's due step and put it into the outbox with the office's digest; the texts are
written later, as each row is sent) on a campaign of N assignments.

    .venv/bin/python bench/remind_bench.py [--sizes 1000 10000 100000] [--runs 3]
    .venv/bin/python bench/remind_bench.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/test

Each size gets a fresh database (a SQLite file, or a throw-away PostgreSQL database created
through the admin URL given and dropped afterwards): N units under one federation, one
requirement due by the end of Tue 24/11/2015, about 30 % already submitted, 2 % exempt, 3 %
without a usable contact; every unit has an office contact by email, half also a chair. The
tick is at Thu 19/11/2015 08:05 local, when every missing unit is due its T−3 reminder, so the
first tick plans and enqueues ~0.65 N emails (their texts and the units' first upload links
are written at send time: bench/dispatch_bench.py). Timed: that first tick, then the same tick again
(everything already planned: what every later 15-minute tick of the day costs). With --parts,
instead, the same two ticks once, step by step: planning, the office's digest, enqueue."""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from dashboard_load import database
from sqlalchemy import Engine, func, insert, select, text
from sqlmodel import Session

from dondoc import reminding
from dondoc.db import make_engine
from dondoc.digest import plan_digest
from dondoc.migrate import upgrade
from dondoc.outbox import enqueue
from dondoc.remindrun import plan_and_enqueue
from dondoc.settings import Settings, get_settings
from models import Assignment, Campaign, Contact, Delivery, Requirement, Submission, Unit

DUE = datetime(2015, 11, 24, 17, 0, tzinfo=UTC)  # end of Tue 24/11/2015 in Hồ Chí Minh City
NOW = datetime(2015, 11, 19, 1, 5, tzinfo=UTC)  # Thu 19/11/2015 08:05 local: T−3
CHUNK = 20_000  # rows per bulk INSERT


def build(engine: Engine, n: int, *, submitted: float = 0.30, exempt: float = 0.02) -> None:
    rng = random.Random(n)
    with engine.begin() as conn:
        conn.execute(insert(Unit), [{"code": "LDLD", "name": "Liên đoàn Lao động quận",
                                     "kind": "federation", "calendar": "mon_fri"}])  # fmt: skip
        conn.execute(insert(Contact), [{"unit_id": 1, "role": "office", "consent_email": True,
                                        "email": "vanphong@example.invalid",
                                        "zalo_phone": "84900001302"}])  # fmt: skip
        _bulk(conn, Unit, (_unit(i) for i in range(n)))
        conn.execute(insert(Campaign), [_campaign()])
        conn.execute(insert(Requirement), [_requirement()])
        _bulk(conn, Assignment, ({"requirement_id": 1, "unit_id": i + 2, "exempt": rng.random() <
                                  exempt, "deadline_version": 0} for i in range(n)))  # fmt: skip
        _bulk(conn, Contact, _contacts(rng, n))
        _bulk(conn, Submission, _submissions(rng, n, submitted))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))  # what autovacuum does soon after a bulk load


def _bulk(conn: Any, table: Any, rows: Iterator[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            conn.execute(insert(table), batch)
            batch = []
    if batch:
        conn.execute(insert(table), batch)


def _unit(i: int) -> dict[str, Any]:
    return {"code": f"CD{i:06d}", "name": f"CĐCS Công ty TNHH số {i}", "parent_id": 1,
            "kind": "grassroots_union", "calendar": "mon_fri"}  # fmt: skip


def _campaign() -> dict[str, Any]:
    return {"code": "bench", "doc_number": "01/KH-LĐLĐ", "doc_year": 2015, "issuer_unit_id": 1,
            "issued_on": date(2015, 11, 2), "title": "Sơ kết (bench)", "status": "active",
            "milestones": []}  # fmt: skip


def _requirement() -> dict[str, Any]:
    return {"campaign_id": 1, "code": "cdcs", "position": 0, "title": "Báo cáo sơ kết",
            "group_label": "CĐCS trực thuộc", "selector": {}, "submit_to_unit_id": 1,
            "consolidator_unit_id": 1, "due_text": "đến hết ngày 24/11/2015",
            "due_date": date(2015, 11, 24), "due_at": DUE, "review_required": True,
            "report_up": False, "indicator_keys": [], "outline": []}  # fmt: skip


def _contacts(rng: random.Random, n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        if rng.random() < 0.03:
            continue  # no usable contact: listed in the digest, not reminded
        yield {"unit_id": i + 2, "role": "office", "email": f"cd{i}@example.invalid",
               "consent_email": True, "zalo_phone": None, "consent_zalo": False}  # fmt: skip
        if i % 2:
            yield {"unit_id": i + 2, "role": "chair", "email": f"ct{i}@example.invalid",
                   "consent_email": True, "zalo_phone": f"849{i:08d}",
                   "consent_zalo": True}  # fmt: skip


def _submissions(rng: random.Random, n: int, share: float) -> Iterator[dict[str, Any]]:
    for i in range(n):
        if rng.random() < share:
            yield {"assignment_id": i + 1, "version": 1, "channel": "portal",
                   "received_at": datetime(2015, 11, 18, 3, 0, tzinfo=UTC),
                   "review_state": "received"}  # fmt: skip


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def parts(engine: Engine, settings: Settings) -> str:
    """plan_and_enqueue's steps timed one by one."""
    with Session(engine) as session:
        campaign = session.get_one(Campaign, 1)
        start = time.perf_counter()
        plan = reminding.plan_campaign(session, campaign, now=NOW, settings=settings, zalo=False)
        planned = time.perf_counter()
        digest = plan_digest(session, campaign, now=NOW, settings=settings, plan=plan)
        digested = time.perf_counter()
        enqueue(session, plan.deliveries + digest, now=NOW)
        session.commit()
        done = time.perf_counter()
    return (f"plan {planned - start:.2f}, digest {digested - planned:.2f}, "
            f"enqueue+commit {done - digested:.2f}")  # fmt: skip


def measure_parts(url: str, n: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    build(engine, n)
    print(f"  {n:>7}, first tick: {parts(engine, get_settings())}")
    print(f"  {n:>7}, again:      {parts(engine, get_settings())}")
    engine.dispose()


def measure(url: str, n: int) -> tuple[float, float, int]:
    """(first tick s, repeated tick s, rows enqueued) on a fresh database at `url`."""
    engine = make_engine(url)
    upgrade(engine)
    build(engine, n)
    settings = get_settings()
    tick = lambda: plan_and_enqueue(engine, 1, now=NOW, settings=settings)  # noqa: E731
    first = timed(tick)
    again = timed(tick)
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(Delivery)).scalar_one()
    engine.dispose()
    return first, again, int(rows)


def run_parts(sizes: list[int], pg: str | None, tmp: str) -> None:
    print(f"{'sqlite' if pg is None else 'postgresql'}: the tick's steps, seconds")
    for n in sizes:
        place = Path(tmp) / f"parts-{n}"
        place.mkdir()
        with database(place, pg) as url:
            measure_parts(url, n)


def run(sizes: list[int], runs: int, pg: str | None, tmp: str) -> None:
    print(f"{'sqlite' if pg is None else 'postgresql'}: plan_and_enqueue, best of {runs}")
    print(f"  {'assignments':>11} {'enqueued':>9} {'first tick s':>12} {'again s':>8}")
    for n in sizes:
        results = []
        for r in range(runs):
            place = Path(tmp) / f"{n}-{r}"
            place.mkdir()
            with database(place, pg) as url:  # a fresh database each time
                results.append(measure(url, n))
        first, again = min(x[0] for x in results), min(x[1] for x in results)
        print(f"  {n:>11} {results[0][2]:>9} {first:>12.2f} {again:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default=None, help="PostgreSQL admin URL (default: SQLite)")
    parser.add_argument("--parts", action="store_true", help="also time the tick's steps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DONDOC_VAR_DIR"] = tmp  # the generated secret key lives there
        os.environ.pop("DONDOC_SMTP_URL", None)
        get_settings.cache_clear()
        if args.parts:
            run_parts(args.sizes, args.pg, tmp)
        else:
            run(args.sizes, args.runs, args.pg, tmp)


if __name__ == "__main__":
    main()
