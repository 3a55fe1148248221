"""Status recompute: dondoc.tracking.campaign_status vs one hand-written reference SQL query.

    .venv/bin/python bench/status_bench.py [--sizes 1000 10000 100000] [--url URL]

Builds a campaign with N assignments (about 70 % on time, 15 % late, 5 % returned, 2 % exempt,
the rest missing) in a fresh SQLite file (or the PostgreSQL URL given, which must be an empty
database), checks that both computations agree unit by unit, and prints the best of 3 timings.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import bindparam, insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

from dondoc.db import make_engine
from dondoc.migrate import upgrade
from dondoc.tracking import campaign_status, campaign_statuses
from models import Assignment, Campaign, Requirement, Submission, Unit

DUE = datetime(2015, 11, 24, 17, 0, tzinfo=UTC)
NOW = datetime(2015, 11, 26, 2, 0, tzinfo=UTC)

REFERENCE_SQL = """
WITH agg AS (
  SELECT assignment_id, MIN(received_at) AS first_at, MAX(version) AS last_version
  FROM submission WHERE received_at <= :now GROUP BY assignment_id
), latest AS (
  SELECT s.assignment_id, s.review_state FROM submission s
  JOIN agg ON agg.assignment_id = s.assignment_id AND s.version = agg.last_version
)
SELECT a.id,
  CASE
    WHEN a.exempt THEN 'exempt'
    WHEN agg.first_at IS NULL THEN
      CASE WHEN :now < COALESCE(a.extended_due_at, r.due_at) THEN 'pending' ELSE 'overdue' END
    WHEN latest.review_state = 'returned' THEN 'returned'
    WHEN agg.first_at < COALESCE(a.extended_due_at, r.due_at) THEN 'on_time'
    ELSE 'late'
  END
FROM assignment a
JOIN requirement r ON r.id = a.requirement_id
LEFT JOIN agg ON agg.assignment_id = a.id
LEFT JOIN latest ON latest.assignment_id = a.id
WHERE r.campaign_id = :campaign
"""


def build(engine: Engine, n: int) -> Campaign:
    rng = random.Random(n)
    with engine.begin() as conn:
        conn.execute(insert(Unit), [{"code": "ROOT", "name": "Root", "kind": "federation",
                                     "calendar": "mon_fri"}])  # fmt: skip
        conn.execute(insert(Unit), [
            {"code": f"U{i:06d}", "name": f"CĐCS {i}", "kind": "grassroots_union",
             "calendar": "mon_fri", "parent_id": 1} for i in range(n)
        ])  # fmt: skip
        conn.execute(insert(Campaign), [{
            "code": "bench", "doc_number": "01/KH-LĐLĐ", "doc_year": 2015, "issuer_unit_id": 1,
            "issued_on": date(2015, 11, 2), "title": "Bench", "status": "active", "milestones": [],
        }])  # fmt: skip
        conn.execute(insert(Requirement), [{
            "campaign_id": 1, "code": "r", "position": 0, "title": "R", "selector": {},
            "submit_to_unit_id": 1, "consolidator_unit_id": 1, "due_text": "24/11/2015",
            "due_date": date(2015, 11, 24), "due_at": DUE, "review_required": True,
            "report_up": False, "indicator_keys": [], "outline": [],
        }])  # fmt: skip
        conn.execute(insert(Assignment), [
            {"requirement_id": 1, "unit_id": i + 2, "exempt": rng.random() < 0.02,
             "deadline_version": 0} for i in range(n)
        ])  # fmt: skip
        conn.execute(insert(Submission), list(_submissions(rng, n)))
    with Session(engine) as session:
        campaign = session.get(Campaign, 1)
        assert campaign is not None
        return campaign


def _submissions(rng: random.Random, n: int):  # type: ignore[no-untyped-def]
    for i in range(n):
        roll = rng.random()
        if roll < 0.08:
            continue  # missing
        early = roll < 0.78
        at = (
            DUE - timedelta(hours=rng.randint(1, 200))
            if early
            else DUE + timedelta(hours=rng.randint(0, 30))
        )
        state = "returned" if 0.78 <= roll < 0.83 else "accepted"
        yield {"assignment_id": i + 1, "version": 1, "received_at": at, "channel": "portal",
               "review_state": state}  # fmt: skip


def reference(engine: Engine, campaign_id: int) -> dict[int, str]:
    query = text(REFERENCE_SQL).bindparams(bindparam("now", type_=UTCDateTime()))
    with engine.connect() as conn:
        return dict(conn.execute(query, {"now": NOW, "campaign": campaign_id}).all())


def ours(engine: Engine, campaign: Campaign) -> dict[int, str]:
    """The recompute: every assignment's status (what the reference computes)."""
    with Session(engine) as session:
        return {k: v.value for k, v in campaign_statuses(session, campaign, now=NOW).items()}


def ours_full(engine: Engine, campaign: Campaign) -> dict[int, str]:
    """The full table (unit, deadline, last version…) the CLI and the tracking flow show."""
    with Session(engine) as session:
        rows = campaign_status(session, campaign, now=NOW)
        return {r.assignment_id: r.status.value for r in rows}


def best_of(fn, runs: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(url: str, n: int, *, reset: bool) -> None:
    engine = make_engine(url)
    if reset:
        SQLModel.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)
    campaign = build(engine, n)
    expected = reference(engine, campaign.id or 0)
    assert ours(engine, campaign) == expected, "statuses disagree"
    assert ours_full(engine, campaign) == expected, "full table disagrees"
    t_ours = best_of(lambda: ours(engine, campaign))
    t_full = best_of(lambda: ours_full(engine, campaign))
    t_ref = best_of(lambda: reference(engine, campaign.id or 0))
    name = engine.dialect.name
    print(
        f"{name:10} {n:>11} {t_ref:>8.3f} {t_ours:>9.3f} {t_ours / t_ref:>6.2f}"
        f" {t_full:>9.3f} {t_full / t_ref:>6.2f}"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--url", default=None, help="empty PostgreSQL database (default SQLite)")
    args = parser.parse_args()
    print(
        f"{'backend':10} {'assignments':>11} {'SQL s':>8} {'status s':>9} {'ratio':>6}"
        f" {'table s':>9} {'ratio':>6}"
    )
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            measure(args.url or f"sqlite:///{tmp}/bench.db", n, reset=bool(args.url))


if __name__ == "__main__":
    main()
