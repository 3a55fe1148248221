"""Consolidation at scale: N units' XLSX forms taken in and consolidated, against the raw time
openpyxl needs to parse the same files; then 10 000 typed submissions aggregated.

    .venv/bin/python bench/consolidate_bench.py [--units 1000] [--typed-units 10000] [--runs 3]
    .venv/bin/python bench/consolidate_bench.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test

The campaign is the seed plan (examples/q1-so-ket-2015.yaml, loaded as `make run` does) with its
cdcs requirement topped up to N CĐCS by units and assignments inserted in bulk. Every run starts
from a fresh SQLite file (or a throw-away PostgreSQL database created through the admin URL
given, dropped afterwards). Prints the best of `--runs` timings, in seconds."""

from __future__ import annotations

import argparse
import io
import os
import random
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from cProfile import Profile
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from pstats import Stats
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import Engine, create_engine, insert, text, update
from sqlmodel import Session, col, select

from dondoc.campaigns import get_campaign
from dondoc.db import make_engine
from dondoc.intake import record_submission
from dondoc.migrate import upgrade
from dondoc.plans.loader import load_plan
from dondoc.reports.archive import build_archive, folder_name
from dondoc.reports.document import build_document
from dondoc.reports.workbook import build_workbook
from dondoc.reportsource import read_source, report_input
from dondoc.rules.aggregate import aggregate
from dondoc.rules.deadlines import VN_TZ
from dondoc.rules.figures import Value, format_number, parse_figures
from dondoc.uploads import CheckedFile, store_checked
from dondoc.xlsxform import KEY_COL, VALUE_COL, FormIdentity, build_form, form_fields, read_upload
from models import Assignment, IndicatorDefinition, IndicatorValue, Requirement, Submission, Unit
from models.enums import Channel, ReviewState

SEED = Path(__file__).resolve().parents[1] / "examples" / "q1-so-ket-2015.yaml"
CAMPAIGN, REQUIREMENT = "q1-so-ket-2015", "cdcs"
LOADED = datetime(2015, 11, 16, 8, 0, tzinfo=VN_TZ)
RECEIVED = datetime(2015, 11, 23, 9, 0, tzinfo=VN_TZ)  # the day before the deadline
AS_OF = datetime(2015, 11, 24, 10, 0, tzinfo=VN_TZ)
SECTORS = ["state", "non_state", "fdi", "public_service", "administrative"]
KINDS = ["Công ty TNHH", "Trường", "Ủy ban nhân dân phường", "Công ty Cổ phần"]
RAW, RAW_AGAIN = "raw openpyxl parse", "raw openpyxl parse, again"
Fields = dict[str | None, list[IndicatorDefinition]]  # by sector: what a unit's form holds


# --- the campaign -----------------------------------------------------------------------------


@contextmanager
def database(admin_url: str | None, tmp: Path) -> Iterator[Engine]:
    """A fresh, migrated database: a SQLite file, or a PostgreSQL database dropped after."""
    if admin_url is None:
        engine = make_engine(f"sqlite:///{tmp}/bench-{uuid.uuid4().hex[:8]}.db")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    name = f"dondoc_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(admin_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def build_campaign(engine: Engine, n: int) -> int:
    """The seed loaded, its cdcs requirement topped up to n units; the requirement's id."""
    with Session(engine) as session:
        load_plan(session, SEED, now=LOADED, actor="bench", tz=VN_TZ)
        session.commit()
        requirement = cdcs(session)
        have = len(assignments(session, requirement.id or 0))
        parent = session.exec(select(Unit).where(Unit.code == "LDLD-Q1")).one()
    rng = random.Random(n)
    with engine.begin() as conn:
        units = [_unit(i, parent.id or 0, rng) for i in range(n - have)]
        if units:
            ids = conn.execute(insert(Unit).returning(col(Unit.id)), units).scalars().all()
            rows = [{"requirement_id": requirement.id, "unit_id": uid} for uid in ids]
            conn.execute(insert(Assignment), rows)
    analyze(engine)
    return requirement.id or 0


def _unit(i: int, parent_id: int, rng: random.Random) -> dict[str, Any]:
    return {
        "code": f"Q1-BENCH{i:05d}", "name": f"CĐCS {rng.choice(KINDS)} số {i}",
        "kind": "grassroots_union", "calendar": "mon_fri", "parent_id": parent_id,
        "sector": rng.choice(SECTORS), "ward": f"Phường {i % 10 + 1}",
    }  # fmt: skip


def analyze(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def cdcs(session: Session) -> Requirement:
    campaign = get_campaign(session, CAMPAIGN)
    return session.exec(
        select(Requirement).where(
            Requirement.campaign_id == campaign.id, Requirement.code == REQUIREMENT
        )
    ).one()


def assignments(session: Session, requirement_id: int) -> list[tuple[Assignment, Unit]]:
    rows = session.exec(
        select(Assignment, Unit)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .where(Assignment.requirement_id == requirement_id)
        .order_by(col(Unit.code))
    )
    return list(rows.all())


def fields_by_sector(session: Session, requirement: Requirement) -> Fields:
    """What form_fields gives each sector; computed once, as the page does per request."""
    sectors = {u.sector for _, u in assignments(session, requirement.id or 0)}
    return {s: form_fields(session, requirement, Unit(code="", name="", kind="", sector=s))
            for s in sectors}  # fmt: skip


def typed_figures(rng: random.Random, fields: Sequence[IndicatorDefinition]) -> dict[str, str]:
    """Plausible figures as a unit types them (Vietnamese style), parts never above wholes."""
    raw: dict[str, str] = {}
    numbers: dict[str, int] = {}
    for f in fields:
        if f.type in ("choice", "boolean"):
            raw[f.key] = (
                rng.choice(f.choices or []) if f.type == "choice" else rng.choice(["Có", "Không"])
            )
            continue
        top = numbers.get(f.max_of or "", 900 if f.type != "percent" else 120)
        numbers[f.key] = rng.randint(top // 2, top)
        scale = 1_000_000 if f.type == "amount_vnd" else 1
        raw[f.key] = format_number(Decimal(numbers[f.key] * scale))
    return raw


# --- part 1: XLSX forms -----------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    unit_code: str
    identity: FormIdentity
    sector: str | None
    data: bytes


def make_forms(engine: Engine, requirement_id: int) -> list[Form]:
    """Every unit's form as it downloads it, filled in the value column and saved again."""
    rng = random.Random(2015)
    forms = []
    with Session(engine) as session:
        requirement = session.get_one(Requirement, requirement_id)
        campaign = get_campaign(session, CAMPAIGN)
        fields = fields_by_sector(session, requirement)
        for _, unit in assignments(session, requirement_id):
            blank = build_form(campaign=campaign, requirement=requirement, unit=unit,
                               fields=fields[unit.sector])  # fmt: skip
            filled = fill(blank, typed_figures(rng, fields[unit.sector]))
            identity = FormIdentity(CAMPAIGN, REQUIREMENT, unit.code)
            forms.append(Form(unit.code, identity, unit.sector, filled))
    return forms


def fill(blank: bytes, raw: dict[str, str]) -> bytes:
    book = load_workbook(io.BytesIO(blank))
    for row in book.worksheets[0].iter_rows():
        key = row[KEY_COL - 1].value
        if isinstance(key, str) and key in raw:
            row[VALUE_COL - 1].value = raw[key]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def raw_parse(forms: Sequence[Form]) -> int:
    """The reference: openpyxl opens each file and reads every cell, nothing else."""
    cells = 0
    for form in forms:
        book = load_workbook(io.BytesIO(form.data), data_only=True)
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                cells += len(row)
    return cells


@dataclass
class Clock:
    """Seconds per named step, added up over many calls."""

    spent: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.spent[name] += time.perf_counter() - start


def take_in(engine: Engine, requirement_id: int, forms: Sequence[Form], clock: Clock,
            storage: Path) -> None:  # fmt: skip
    """What the upload page does with each form: check and read it, parse the figures, store
    the file durably, record the version and commit (one transaction per unit, like the web)."""
    with Session(engine) as session:
        by_code = {u.code: a for a, u in assignments(session, requirement_id)}
        fields = fields_by_sector(session, session.get_one(Requirement, requirement_id))
    read = [_read(form, fields[form.sector], clock) for form in forms]
    for form, sheet, values in read:
        with clock.step("store the file (fsync)"):
            stored = store_checked(storage, [sheet])
        with clock.step("record + commit"), Session(engine) as session:
            record_submission(session, assignment=by_code[form.unit_code], received_at=RECEIVED,
                              channel=Channel.PORTAL, files=stored, values=values,
                              now=RECEIVED)  # fmt: skip
            session.commit()


def _read(
    form: Form, fields: Sequence[IndicatorDefinition], clock: Clock
) -> tuple[Form, CheckedFile, dict[str, Value]]:
    """The upload page's checks and reading of one form (all forms are read before any is
    recorded, so that this loop compares with raw_parse under the same conditions)."""
    with clock.step("parse"):
        sheet, raw = read_upload("so-lieu.xlsx", io.BytesIO(form.data), max_bytes=20 << 20,
                                 expected=form.identity, keys=[f.key for f in fields])  # fmt: skip
        values, errors = parse_figures(fields, raw, sector=form.sector)
    assert not errors and values, (form.unit_code, errors)
    return form, sheet, values


def accept_all(engine: Engine) -> None:
    """The office's acceptance (the requirement needs review): not timed, not the intake's."""
    with engine.begin() as conn:
        conn.execute(update(Submission).values(review_state=ReviewState.ACCEPTED.value))
    analyze(engine)


def consolidate(engine: Engine, requirement_id: int, clock: Clock, storage: Path) -> None:
    """consolidation.draft, step by step: no .docx among the files, so no narratives."""
    with Session(engine) as session:
        with clock.step("read_source"):
            source = read_source(session, requirement_id, as_of=AS_OF)
        with clock.step("aggregate"):
            outline = source.requirement.outline
            report = report_input(session, source, [(h, []) for h in outline], tz=VN_TZ)
        with clock.step("workbook"):
            build_workbook(report)
        with clock.step("document"):
            build_document(report)
        with clock.step("archive (not in the ratio)"):
            contents = [(f, (storage / f.storage_path).read_bytes()) for f in source.files]
            entries = ((folder_name(f.unit_code, f.unit_name), f.name, d) for f, d in contents)
            build_archive(entries, report.fixed_moment)
        assert report.counts().submitted == len(source.units), "every unit counted"


def xlsx_run(
    admin_url: str | None, tmp: Path, n: int, forms: list[Form] | None, profile: Profile | None
) -> tuple[Clock, list[Form]]:
    clock = Clock()
    storage = tmp / f"storage-{uuid.uuid4().hex[:8]}"
    with database(admin_url, tmp) as engine:
        requirement_id = build_campaign(engine, n)
        forms = forms or make_forms(engine, requirement_id)
        with clock.step(RAW):
            raw_parse(forms)
        with profiled(profile):
            take_in(engine, requirement_id, forms, clock, storage)
        accept_all(engine)
        with profiled(profile):
            consolidate(engine, requirement_id, clock, storage)
        with clock.step(RAW_AGAIN):  # the machine is shared: the reference gets two chances
            raw_parse(forms)
    return clock, forms


@contextmanager
def profiled(profile: Profile | None) -> Iterator[None]:
    if profile is not None:
        profile.enable()
    yield
    if profile is not None:
        profile.disable()


# --- part 2: typed figures --------------------------------------------------------------------


def submit_typed(engine: Engine, requirement_id: int) -> None:
    """One accepted portal submission per unit, its typed figures parsed as the page parses
    them, all inserted in bulk (the intake is not what this part measures)."""
    rng = random.Random(10_000)
    with Session(engine) as session:
        fields = fields_by_sector(session, session.get_one(Requirement, requirement_id))
        units = [(a.id or 0, u.sector) for a, u in assignments(session, requirement_id)]
    rows = [{"assignment_id": aid, "version": 1, "received_at": RECEIVED, "channel": "portal",
             "review_state": ReviewState.ACCEPTED.value} for aid, _ in units]  # fmt: skip
    with engine.begin() as conn:
        made = conn.execute(
            insert(Submission).returning(col(Submission.assignment_id), col(Submission.id)), rows
        )
        ids = {aid: sid or 0 for aid, sid in made.tuples()}
        values = [_value_row(ids[aid], key, value)
                  for aid, sector in units
                  for key, value in _parsed(rng, fields[sector], sector).items()]  # fmt: skip
        conn.execute(insert(IndicatorValue), values)
    analyze(engine)


def _parsed(
    rng: random.Random, fields: Sequence[IndicatorDefinition], sector: str | None
) -> dict[str, Value]:
    values, errors = parse_figures(fields, typed_figures(rng, fields), sector=sector)
    assert not errors, errors
    return values


def _value_row(submission_id: int, key: str, value: Value) -> dict[str, Any]:
    number = value if isinstance(value, Decimal) else None
    return {"submission_id": submission_id, "key": key, "num_value": number,
            "text_value": value if isinstance(value, str) else None}  # fmt: skip


def typed_run(engine: Engine, requirement_id: int, clock: Clock) -> None:
    with Session(engine) as session:
        with clock.step("read_source"):
            source = read_source(session, requirement_id, as_of=AS_OF)
        with clock.step("Source.aggregate()"):
            result = source.aggregate()
    with clock.step("aggregate() alone"):
        aggregate(source.definitions, source.targets, source.figures)
    assert result.reporting_units == len(source.units), "every unit counted"


# --- measuring --------------------------------------------------------------------------------


def best(clocks: Sequence[Clock]) -> dict[str, float]:
    return {name: min(c.spent[name] for c in clocks) for name in clocks[0].spent}


def measure_xlsx(admin_url: str | None, tmp: Path, n: int, runs: int, profile: bool) -> None:
    """Each run on a fresh database; with `profile`, the last run's dondoc steps profiled."""
    clocks: list[Clock] = []
    forms: list[Form] | None = None
    for run in range(runs):
        profiler = Profile() if profile and run == runs - 1 else None
        clock, forms = xlsx_run(admin_url, tmp, n, forms, profiler)
        clocks.append(clock)
        if profiler is not None:
            Stats(profiler).sort_stats("tottime").print_stats(25)
    steps = best(clocks)
    reference = min(steps.pop(RAW), steps.pop(RAW_AGAIN))
    print(f"{n} XLSX forms, best of {runs} (s); {RAW} {reference:.3f}")
    total = 0.0
    for name, seconds in steps.items():
        total += 0.0 if "not in the ratio" in name else seconds
        print(f"  {name:30} {seconds:8.3f}   {seconds / reference:5.2f}x")
    print(f"  {'dondoc (ratio steps)':30} {total:8.3f}   {total / reference:5.2f}x  (goal <= 1.5x)")


def measure_typed(admin_url: str | None, tmp: Path, n: int, runs: int) -> None:
    with database(admin_url, tmp) as engine:
        requirement_id = build_campaign(engine, n)
        submit_typed(engine, requirement_id)
        clocks = []
        for _ in range(runs):
            clock = Clock()
            typed_run(engine, requirement_id, clock)
            clocks.append(clock)
    steps = best(clocks)
    print(f"{n} typed submissions aggregated, best of {runs} (s)")
    for name, seconds in steps.items():
        print(f"  {name:30} {seconds:8.3f}")
    both = steps["read_source"] + steps["Source.aggregate()"]
    print(f"  {'read_source + aggregate':30} {both:8.3f}   (goal < 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None, help="PostgreSQL admin URL (default: SQLite)")
    parser.add_argument("--units", type=int, default=1000, help="units sending an XLSX form")
    parser.add_argument("--typed-units", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["xlsx", "typed"], default=None)
    parser.add_argument("--profile", action="store_true", help="cProfile the XLSX part's last run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DONDOC_VAR_DIR"] = tmp  # nothing dondoc writes by itself leaves it
        backend = "PostgreSQL" if args.url else "SQLite"
        print(f"{backend}; load average {os.getloadavg()[0]:.2f}")
        if args.only != "typed":
            measure_xlsx(args.url, Path(tmp), args.units, args.runs, args.profile)
        if args.only != "xlsx":
            measure_typed(args.url, Path(tmp), args.typed_units, args.runs)


if __name__ == "__main__":
    main()
