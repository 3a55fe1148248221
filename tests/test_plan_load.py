"""Loading plan files: the seed campaign, reloading, linking, and every validation error
(file, line and field named; the database left unchanged)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, select

from dondoc.errors import InputError
from dondoc.plans.loader import LoadResult, load_plan
from dondoc.rules.deadlines import VN_TZ
from models import (
    Assignment,
    BasisDocument,
    Campaign,
    Contact,
    DistributionEntry,
    IndicatorDefinition,
    Requirement,
    Target,
    Unit,
)
from tests.support.files import CITY, SEED, UNITS, copy_examples, line_containing, replace_once

NOW = datetime(2015, 11, 5, 2, 0, tzinfo=UTC)


def load(engine: Engine, path: Path) -> LoadResult:
    with Session(engine) as session:
        result = load_plan(session, path, now=NOW, actor="test", tz=VN_TZ)
        session.commit()
        return result


def row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in SQLModel.metadata.sorted_tables
        }


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return copy_examples(tmp_path)


def test_it_loads_the_seed_campaign(engine: Engine, files: Path) -> None:
    result = load(engine, files / SEED)
    assert (result.created, result.units_created, result.requirements) == (True, 68, 2)
    assert result.assignments == 7 + 56
    with Session(engine) as s:
        reqs = {r.code: r for r in s.exec(select(Requirement))}
        assert reqs["ban-chuyen-de"].due_at == datetime(2015, 11, 20, 17, 0, tzinfo=UTC)
        assert reqs["cdcs"].due_at == datetime(2015, 11, 24, 17, 0, tzinfo=UTC)
        assert reqs["cdcs"].hard_close_at == datetime(2015, 11, 27, 10, 0, tzinfo=UTC)
        assert reqs["cdcs"].report_up and not reqs["ban-chuyen-de"].report_up
        assert len(reqs["cdcs"].indicator_keys) == 18 and reqs["ban-chuyen-de"].indicator_keys == []
        campaign = s.exec(select(Campaign)).one()
        assert (campaign.doc_number, campaign.parent_doc_number) == ("95/KH-LĐLĐ", "78/KH-LĐLĐ")
        assert s.exec(select(func.count()).select_from(IndicatorDefinition)).one() == 18
        assert s.exec(select(func.count()).select_from(Target)).one() == 10
        assert [d.role for d in s.exec(select(DistributionEntry).order_by("position"))] == [
            "report_to",
            "inform",
            "carry_out",
            "carry_out",
            "archive",
        ]
        assert [b.implements for b in s.exec(select(BasisDocument).order_by("position"))] == [
            True,
            False,
            False,
        ]


def test_it_stores_contacts_with_normalised_phones_and_consent(engine: Engine, files: Path) -> None:
    load(engine, files / SEED)
    with Session(engine) as s:
        q1 = s.exec(select(Unit).where(Unit.code == "LDLD-Q1")).one()
        chair = s.exec(
            select(Contact).where(Contact.unit_id == q1.id, Contact.role == "chair")
        ).one()
        assert chair.zalo_phone == "84900001102"  # written "+84 900 001 102"
        assert chair.consent_email and chair.consent_zalo


def test_loading_again_updates_without_duplicates(engine: Engine, files: Path) -> None:
    load(engine, files / SEED)
    before = row_counts(engine)
    replace_once(files / SEED, "từ nay đến hết ngày 20/11/2015", "đến hết ngày 19/11/2015")
    result = load(engine, files / SEED)
    assert not result.created and result.units_updated == 68
    after = row_counts(engine)
    assert after["audit_event"] == before["audit_event"] + 1
    assert {k: v for k, v in after.items() if k != "audit_event"} == {
        k: v for k, v in before.items() if k != "audit_event"
    }
    with Session(engine) as s:
        req = s.exec(select(Requirement).where(Requirement.code == "ban-chuyen-de")).one()
        assert req.due_at == datetime(2015, 11, 19, 17, 0, tzinfo=UTC)


def test_it_links_the_district_plan_to_the_city_plan_in_either_order(
    engine: Engine, files: Path
) -> None:
    load(engine, files / SEED)
    load(engine, files / CITY)
    with Session(engine) as s:
        q1 = s.exec(select(Campaign).where(Campaign.code == "q1-so-ket-2015")).one()
        city = s.exec(select(Campaign).where(Campaign.code == "hcm-78-2015")).one()
        assert q1.parent_campaign_id == city.id
    load(engine, files / SEED)  # reloading the child keeps the link
    with Session(engine) as s:
        q1 = s.exec(select(Campaign).where(Campaign.code == "q1-so-ket-2015")).one()
        assert q1.parent_campaign_id == city.id


def test_a_unit_left_out_after_submitting_cannot_be_dropped(engine: Engine, files: Path) -> None:
    from dondoc.intake import record_submission
    from models.enums import Channel

    load(engine, files / SEED)
    with Session(engine) as s:
        unit = s.exec(select(Unit).where(Unit.code == "LDLD-Q1-UBKT")).one()
        assignment = s.exec(select(Assignment).where(Assignment.unit_id == unit.id)).one()
        record_submission(
            s, assignment=assignment, received_at=NOW, channel=Channel.OFFICE, now=NOW
        )
        s.commit()
    replace_once(files / SEED, "kinds: [department, inspection_committee]", "kinds: [department]")
    with pytest.raises(InputError) as err:
        load(engine, files / SEED)
    assert "LDLD-Q1-UBKT has 1 submission(s)" in str(err.value)


# --- every validation error: (what to change, the field named, words of the message) ----------

Case = tuple[str, str, str, str, str]  # (file, old, new, field, message)
BAD_PLANS: dict[str, Case] = {
    "unknown unit code": (
        SEED,
        "    submit_to: LDLD-Q1-VP\n",
        "    submit_to: LDLD-Q1-XX\n",
        "requirements[0].submit_to",
        "unknown unit code 'LDLD-Q1-XX'",
    ),
    "duplicate requirement code": (
        SEED,
        "  - code: cdcs\n",
        "  - code: ban-chuyen-de\n",
        "requirements[1].code",
        "duplicate 'ban-chuyen-de'",
    ),
    "weekday does not match the date": (
        SEED,
        "đến hết ngày thứ ba 24/11/2015",
        "đến hết ngày thứ tư 24/11/2015",
        "requirements[1].due",
        "thứ Ba",
    ),
    "deadline before the data cut-off": (
        SEED,
        "data_cutoff: 15/11/2015",
        "data_cutoff: 21/11/2015",
        "requirements[0].due",
        "not after the data cut-off 21/11/2015",
    ),
    "malformed document number": (
        SEED,
        "number: 95/KH-LĐLĐ",
        "number: 95/KH_LĐLĐ",
        "plan.number",
        "78/KH-LĐLĐ",
    ),
    "unpadded document number": (
        SEED,
        "number: 95/KH-LĐLĐ",
        "number: 5/KH-LĐLĐ",
        "plan.number",
        "05/KH-LĐLĐ",
    ),
    "impossible date": (
        SEED,
        "issued_on: 04/11/2015",
        "issued_on: 31/11/2015",
        "plan.issued_on",
        "31/11/2015",
    ),
    "misspelt field": (
        SEED,
        "    review: required\n",
        "    reveiw: required\n",
        "requirements[0].reveiw",
        "Extra inputs are not permitted",
    ),
    "unknown unit kind in a selector": (
        SEED,
        "kinds: [department, inspection_committee]",
        "kinds: [department, ban]",
        "requirements[0].units.kinds[1]",
        "Input should be",
    ),
    "selector that selects nothing": (
        SEED,
        "kinds: [department, inspection_committee]",
        "kinds: [union_section]",
        "requirements[0].units",
        "selects no unit",
    ),
    "unknown indicator in a formula": (
        SEED,
        "formula: so_doan_vien / so_cnvcld",
        "formula: so_doan_vien / so_cnvc",
        "indicators[3].formula",
        "so_cnvc",
    ),
    "unknown reminder policy": (
        SEED,
        "    reminder_policy: default\n",
        "    reminder_policy: nhanh\n",
        "requirements[0].reminder_policy",
        "no reminder policy 'nhanh'",
    ),
    "unquoted time in a reminder policy": (
        SEED,
        'window_end: "17:00"',
        "window_end: 17:00",
        "reminder_policies.default",
        'window_end must be a time of day like "08:00" (quoted',
    ),
    "hard close before the deadline": (
        SEED,
        "hard_close: 27/11/2015 17:00",
        "hard_close: 23/11/2015 17:00",
        "requirements[1].hard_close",
        "before the deadline",
    ),
}


@pytest.mark.parametrize("case", BAD_PLANS.values(), ids=BAD_PLANS.keys())
def test_a_bad_plan_is_refused_with_file_line_and_field(
    engine: Engine, files: Path, case: Case
) -> None:
    name, old, new, field, words = case
    line = replace_once(files / name, old, new)
    before = row_counts(engine)
    with pytest.raises(InputError) as err:
        load(engine, files / name)
    problems = [p for p in err.value.problems if p.field == field]
    assert problems, f"no problem for {field}: {err.value}"
    assert words in problems[0].message
    assert problems[0].file == str(files / name)
    # Most problems sit on the changed line; these two on the line of the field they concern.
    elsewhere = {
        "cut-off": "due: từ nay đến hết ngày 20/11",
        "selects no unit": "    units:",
        "window_end must be": "  default:",
    }
    needle = next((v for k, v in elsewhere.items() if k in words), None)
    expected_line = line_containing(files / name, needle) if needle else line
    assert problems[0].line == expected_line
    assert row_counts(engine) == before


def test_a_deadline_after_the_parent_plan_is_refused(engine: Engine, files: Path) -> None:
    replace_once(files / CITY, "đến hết ngày 30/11/2015", "đến hết ngày 23/11/2015")
    load(engine, files / SEED)
    with pytest.raises(InputError) as err:  # loading the parent after the child
        load(engine, files / CITY)
    assert "before the deadline" in str(err.value) and "95/KH-LĐLĐ" in str(err.value)


def test_a_child_deadline_after_the_loaded_parent_is_refused(engine: Engine, files: Path) -> None:
    load(engine, files / SEED)
    load(engine, files / CITY)
    replace_once(files / SEED, "thứ ba 24/11/2015", "thứ ba 01/12/2015")
    replace_once(files / SEED, "hard_close: 27/11/2015", "hard_close: 04/12/2015")
    before = row_counts(engine)
    with pytest.raises(InputError) as err:
        load(engine, files / SEED)
    problem = next(p for p in err.value.problems if p.field == "requirements[1].due")
    assert "after the parent plan 78/KH-LĐLĐ's deadline for LDLD-Q1" in problem.message
    assert problem.line == line_containing(files / SEED, "thứ ba 01/12/2015")
    assert row_counts(engine) == before


BAD_UNIT_ROWS: dict[str, tuple[str, str, str, str]] = {
    "bad email": (
        "chutich.q1-cd007@example.invalid",
        "chutich.q1-cd007@",
        "chair_email",
        "not an email address",
    ),
    "bad phone": ("+84 900 000 107", "0123 45", "chair_zalo", "not a Vietnamese mobile number"),
    "unknown parent": (
        "Q1-CD007,CĐCS Ủy ban nhân dân phường Nguyễn Cư Trinh,",
        "Q1-CD007,CĐCS Ủy ban nhân dân phường Nguyễn Cư Trinh,",
        "",
        "",
    ),
    "duplicate unit code": ("Q1-CD008,", "Q1-CD007,", "code", "duplicate unit code"),
    "name longer than its column": (
        ",CĐCS Ủy ban nhân dân phường Cô Giang,",
        "," + "Đ" * 256 + ",",
        "name",
        "at most 255 characters",
    ),
    "unknown kind": (
        ",grassroots_union,LDLD-Q1,administrative",
        ",cdcs,LDLD-Q1,administrative",
        "kind",
        "Input should be",
    ),
}


@pytest.mark.parametrize("case", BAD_UNIT_ROWS.values(), ids=BAD_UNIT_ROWS.keys())
def test_a_bad_unit_row_is_refused_with_its_line(
    engine: Engine, files: Path, case: tuple[str, str, str, str]
) -> None:
    old, new, field, words = case
    if not field:  # "unknown parent": make the row point at a unit that does not exist
        old, new, field, words = (
            ",grassroots_union,LDLD-Q1,",
            ",grassroots_union,LDLD-Q9,",
            ("parent"),
            "unknown unit code 'LDLD-Q9'",
        )
    line = replace_once(files / UNITS, old, new)
    before = row_counts(engine)
    with pytest.raises(InputError) as err:
        load(engine, files / SEED)
    problem = next(p for p in err.value.problems if p.field == field)
    assert (problem.file, problem.line) == (str(files / UNITS), line)
    assert words in problem.message
    assert row_counts(engine) == before


def test_a_file_that_is_not_utf8_is_refused_with_the_line(engine: Engine, files: Path) -> None:
    text = (files / SEED).read_text(encoding="utf-8")
    line = line_containing(files / SEED, "place: Quận 1")
    (files / SEED).write_bytes(text.encode("utf-8").replace("Quận 1".encode(), b"Qu\xe2n 1", 1))
    with pytest.raises(InputError) as err:
        load(engine, files / SEED)
    assert "not UTF-8" in str(err.value)
    assert err.value.problems[0].line == line


def test_a_yaml_syntax_error_names_the_line(engine: Engine, files: Path) -> None:
    line = replace_once(files / SEED, "  issuing_body: Ban Thường vụ\n", "  issuing_body: [Ban\n")
    with pytest.raises(InputError) as err:
        load(engine, files / SEED)
    assert "YAML syntax" in str(err.value)
    assert err.value.problems[0].line is not None and err.value.problems[0].line >= line


def test_a_duplicate_yaml_key_is_refused(engine: Engine, files: Path) -> None:
    line = replace_once(files / SEED, "  place: Quận 1\n", "  place: Quận 1\n  place: Quận 3\n")
    with pytest.raises(InputError) as err:
        load(engine, files / SEED)
    assert (err.value.problems[0].line, err.value.problems[0].field) == (line + 1, "plan.place")


def test_all_problems_are_reported_at_once(engine: Engine, files: Path) -> None:
    replace_once(files / SEED, "number: 95/KH-LĐLĐ", "number: 95-KH")
    replace_once(files / SEED, "issued_on: 04/11/2015", "issued_on: 4/13/2015")
    with pytest.raises(InputError) as err:
        load(engine, files / SEED)
    assert {p.field for p in err.value.problems} >= {"plan.number", "plan.issued_on"}
