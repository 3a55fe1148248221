"""The Alembic migrations build exactly the schema the models describe, on SQLite and on
PostgreSQL, and the schema itself refuses bad rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

import models  # noqa: F401  (registers every table on SQLModel.metadata)
from dondoc.migrate import alembic_config, current_revision, upgrade
from models import Assignment, Campaign, Requirement, Submission, Unit

NOW = datetime(2015, 11, 5, 2, 0, tzinfo=UTC)


def head(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_upgrading_a_migrated_database_again_changes_nothing(engine: Engine) -> None:
    assert current_revision(engine) == head(engine) is not None
    upgrade(engine)
    assert current_revision(engine) == head(engine)


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def make_assignment(session: Session) -> int:
    unit = Unit(code="LDLD-Q1", name="Liên đoàn Lao động quận 1", kind="federation")
    session.add(unit)
    session.flush()
    campaign = Campaign(
        code="q1-so-ket-2015",
        doc_number="95/KH-LĐLĐ",
        doc_year=2015,
        issuer_unit_id=unit.id or 0,
        issued_on=date(2015, 11, 4),
        title="Sơ kết",
    )
    session.add(campaign)
    session.flush()
    requirement = Requirement(
        campaign_id=campaign.id or 0,
        code="cdcs",
        title="Báo cáo sơ kết",
        submit_to_unit_id=unit.id or 0,
        consolidator_unit_id=unit.id or 0,
        due_text="đến hết ngày 24/11/2015",
        due_date=date(2015, 11, 24),
        due_at=datetime(2015, 11, 24, 17, 0, tzinfo=UTC),
    )
    session.add(requirement)
    session.flush()
    assignment = Assignment(requirement_id=requirement.id or 0, unit_id=unit.id or 0)
    session.add(assignment)
    session.flush()
    return assignment.id or 0


def submission(assignment_id: int, version: int) -> Submission:
    return Submission(
        assignment_id=assignment_id, version=version, received_at=NOW, channel="portal"
    )


# (rows to add, the bad one last; the constraint PostgreSQL names; what SQLite says instead)
Case = tuple[Callable[[Session], list[SQLModel]], str, str]
BAD_ROWS: dict[str, Case] = {
    "unit kind outside the vocabulary": (
        lambda s: [Unit(code="X", name="X", kind="nonsense")],
        "ck_unit_kind",
        "ck_unit_kind",
    ),
    "unit valid until before it starts": (
        lambda s: [
            Unit(
                code="X",
                name="X",
                kind="office",
                valid_from=date(2016, 1, 1),
                valid_to=date(2015, 12, 31),
            )
        ],
        "ck_unit_validity",
        "ck_unit_validity",
    ),
    "submission version 0": (
        lambda s: [submission(make_assignment(s), 0)],
        "ck_submission_version",
        "ck_submission_version",
    ),
    "two submissions with one version number": (
        lambda s: [submission(a := make_assignment(s), 1), submission(a, 1)],
        "uq_submission_version",
        "submission.assignment_id, submission.version",
    ),
}


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_the_schema_refuses_a_bad_row(engine: Engine, case: Case) -> None:
    rows, constraint, sqlite_words = case
    with Session(engine) as session:
        *good, bad = rows(session)
        for row in good:
            session.add(row)
            session.flush()  # the fine rows go in: the refusal below is the bad row's own
        session.add(bad)
        with pytest.raises(IntegrityError) as err:
            session.flush()
        session.rollback()
    words = sqlite_words if engine.dialect.name == "sqlite" else constraint
    assert words in str(err.value.orig)


def test_a_second_version_of_a_submission_is_accepted(engine: Engine) -> None:
    with Session(engine) as session:
        assignment_id = make_assignment(session)
        session.add_all([submission(assignment_id, 1), submission(assignment_id, 2)])
        session.commit()
