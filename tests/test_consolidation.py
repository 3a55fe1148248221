"""Consolidating the seed's CĐCS reports from the database: the three files, once per claimed
state, a new version for each new state, the cut-off listing who is missing."""

from __future__ import annotations

import io
import random
import zipfile
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import docx
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from dondoc.campaigns import get_assignment, get_campaign, get_unit
from dondoc.completion import COMPLETE, CUTOFF
from dondoc.consolidation import consolidate_claim, draft, files_of
from dondoc.db import session_scope
from dondoc.office import exempt
from dondoc.reports.workbook import HEADER_ROW
from dondoc.reportsource import read_source, report_number
from dondoc.rules.deadlines import VN_TZ
from dondoc.settings import get_settings
from models import Consolidation, Requirement
from tests.support.consolidating import (
    Figures,
    claim_now,
    completion_id,
    figures,
    requirement_units,
    send_report,
)
from tests.support.tracking import CAMPAIGN, load_seed, local

EXEMPTED = ("Q1-CD055", "Q1-CD056")


@pytest.fixture
def seed(env: str, tmp_path: Path) -> tuple[list[str], list[str]]:
    """The seed loaded; the CĐCS codes and the requirement's outline."""
    load_seed(tmp_path / "plan")
    with session_scope() as session:
        units = requirement_units(session, CAMPAIGN, "cdcs")
        outline = _requirement(session).outline
        campaign = get_campaign(session, CAMPAIGN)
        for code in EXEMPTED:
            assignment, _ = get_assignment(session, campaign, get_unit(session, code))
            exempt(
                session, assignment, reason="Giải thể", by="vanthu", now=local("2015-11-18 09:00")
            )
        return [u.code for u in units], outline


def _requirement(session: Session) -> Requirement:
    campaign = get_campaign(session, CAMPAIGN)
    return session.exec(
        select(Requirement).where(
            Requirement.campaign_id == campaign.id, Requirement.code == "cdcs"
        )
    ).one()


def submit_all(
    codes: list[str], outline: list[str], *, skip: tuple[str, ...] = ()
) -> dict[str, Figures]:
    rng = random.Random(2015)
    sent: dict[str, Figures] = {}
    with session_scope() as session:
        sectors = {code: get_unit(session, code).sector for code in codes}
    for code in codes:
        if code in EXEMPTED or code in skip:
            continue
        sent[code] = figures(rng, sectors[code])
        send_report(CAMPAIGN, code, local("2015-11-23 09:00"), sent[code], outline=outline)
    return sent


def consolidate(at_text: str) -> Consolidation:
    [claim] = [c for c in claim_now(CAMPAIGN, local(at_text)) if c.requirement_code == "cdcs"]
    with session_scope() as session:
        return draft_claim(session, completion_id(session, claim), at_text)


def draft_claim(session: Session, claim_id: int, at_text: str) -> Consolidation:
    root = get_settings().effective_storage_dir
    return consolidate_claim(session, claim_id, now=local(at_text), tz=VN_TZ, storage_root=root)


def stored(consolidation_id: int) -> dict[str, bytes]:
    root = get_settings().effective_storage_dir
    with session_scope() as session:
        return {
            f.kind: (root / f.storage_path).read_bytes()
            for f in files_of(session, consolidation_id)
        }


def total(sent: dict[str, Figures], key: str) -> Decimal:
    return sum((Decimal(v[key]) for v in sent.values() if key in v), Decimal(0))


def test_a_complete_requirement_gives_a_workbook_a_draft_and_an_archive(
    seed: tuple[list[str], list[str]],
) -> None:
    codes, outline = seed
    sent = submit_all(codes, outline)

    row = consolidate("2015-11-24 10:00")

    assert (row.version, row.reason) == (1, COMPLETE)
    assert (row.expected, row.submitted, row.on_time, row.late, row.missing, row.exempt) == (
        54, 54, 54, 0, 0, 2,
    )  # fmt: skip
    files = stored(row.id or 0)
    assert sorted(files) == ["archive", "document", "workbook"]
    book = load_workbook(io.BytesIO(files["workbook"]))
    sheet = book["Số liệu"]
    headers = [c.value for c in sheet[HEADER_ROW]]
    members = headers.index("Tổng số đoàn viên (người)") + 1
    totals_row = next(
        r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 3).value == "Tổng cộng"
    )
    assert sheet.cell(totals_row, members).value == total(sent, "so_doan_vien")
    assert Decimal(row.totals["totals"]["so_doan_vien"]["value"]) == total(sent, "so_doan_vien")


def test_the_draft_carries_the_issuer_block_and_each_units_text_under_its_heading(
    seed: tuple[list[str], list[str]],
) -> None:
    codes, outline = seed
    submit_all(codes, outline)
    document = docx.Document(
        io.BytesIO(stored(consolidate("2015-11-24 10:00").id or 0)["document"])
    )
    text = "\n".join(p.text for p in document.paragraphs)
    cells = "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)

    assert "LIÊN ĐOÀN LAO ĐỘNG QUẬN 1" in cells
    assert "Số: …/BC-LĐLĐ" in cells
    assert "BÁO CÁO" in text
    women = next(h for h in outline if h.startswith("II.4."))
    after = text[text.index(women) :]
    assert "CĐCS Ủy ban nhân dân phường Bến Nghé: nội dung mục II." in after
    assert "Đã nộp 54/54" in text + cells


def test_the_archive_has_a_folder_per_unit_named_by_code_and_name(
    seed: tuple[list[str], list[str]],
) -> None:
    codes, outline = seed
    submit_all(codes, outline)
    archive = zipfile.ZipFile(
        io.BytesIO(stored(consolidate("2015-11-24 10:00").id or 0)["archive"])
    )

    names = archive.namelist()
    assert len(names) == 54
    assert "Q1-CD001 - CĐCS Ủy ban nhân dân phường Bến Nghé/Bao cao Q1-CD001.docx" in names
    assert not any(n.startswith(EXEMPTED) for n in names)


def test_the_same_state_is_drafted_once_and_rebuilds_to_the_same_bytes(
    seed: tuple[list[str], list[str]],
) -> None:
    codes, outline = seed
    submit_all(codes, outline)
    first = consolidate("2015-11-24 10:00")
    with session_scope() as session:
        again = draft_claim(session, first.completion_id, "2015-11-24 11:00")
        source = read_source(session, first.requirement_id, as_of=first.as_of)
        root = get_settings().effective_storage_dir
        one, two = (draft(session, source, tz=VN_TZ, storage_root=root) for _ in range(2))

    assert again.id == first.id
    assert [f[2] for f in one.files] == [f[2] for f in two.files]
    assert one.files[0][2] == stored(first.id or 0)["workbook"]


def test_two_workers_drafting_the_same_claim_make_one_version(
    seed: tuple[list[str], list[str]], engine: Engine
) -> None:
    codes, outline = seed
    submit_all(codes, outline)
    [claim] = [
        c for c in claim_now(CAMPAIGN, local("2015-11-24 10:00")) if c.requirement_code == "cdcs"
    ]
    with Session(engine) as s:
        cid = completion_id(s, claim)

    def work() -> int:
        with Session(engine, expire_on_commit=False) as s:
            row = draft_claim(s, cid, "2015-11-24 10:00")
            s.commit()
            return row.id or 0

    with ThreadPoolExecutor(2) as pool:
        ids = list(pool.map(lambda _: work(), range(2)))

    assert ids[0] == ids[1]
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Consolidation)).one() == 1


def test_a_correction_after_completion_is_a_new_version_and_the_first_stays(
    seed: tuple[list[str], list[str]],
) -> None:
    codes, outline = seed
    sent = submit_all(codes, outline)
    first = consolidate("2015-11-24 10:00")
    corrected = {**sent["Q1-CD001"], "so_doan_vien": Decimal(sent["Q1-CD001"]["so_doan_vien"]) - 1}
    send_report(CAMPAIGN, "Q1-CD001", local("2015-11-25 08:00"), corrected, outline=outline)

    second = consolidate("2015-11-25 09:00")

    assert (first.version, second.version) == (1, 2)
    assert first.content_sha256 != second.content_sha256
    value = Decimal(second.totals["totals"]["so_doan_vien"]["value"])
    assert value == total(sent, "so_doan_vien") - 1
    with session_scope() as session:
        kept = session.get_one(Consolidation, first.id)
        assert kept.totals == first.totals
        names = [f.name for f in files_of(session, second.id or 0)]
        assert names[0].endswith("_v2.xlsx")


def test_the_cutoff_consolidates_what_is_there_and_lists_the_missing_units(
    seed: tuple[list[str], list[str]],
) -> None:
    codes, outline = seed
    late = ("Q1-CD010", "Q1-CD020")
    sent = submit_all(codes, outline, skip=late)
    assert claim_now(CAMPAIGN, local("2015-11-25 23:59")) == []  # before the cut-off: nothing

    row = consolidate("2015-11-26 00:00")  # Tue 24/11 + 2 working days

    assert (row.reason, row.submitted, row.missing) == (CUTOFF, 52, 2)
    book = load_workbook(io.BytesIO(stored(row.id or 0)["workbook"]))
    missing = [c.value for c in book["Chưa nộp"]["B"]]
    assert set(late) <= set(missing)
    assert Decimal(row.totals["totals"]["so_doan_vien"]["value"]) == total(sent, "so_doan_vien")
    send_report(CAMPAIGN, "Q1-CD010", local("2015-11-26 10:00"), figures(random.Random(1), None))
    assert consolidate("2015-11-26 10:05").version == 2  # after the cut-off, each new state


@pytest.mark.parametrize(
    ("plan_number", "report"),
    [
        ("95/KH-LĐLĐ", "…/BC-LĐLĐ"),
        ("78/KH-LĐLĐ", "…/BC-LĐLĐ"),
        ("12/KH-BCH", "…/BC-BCH"),
        ("kế hoạch", "…/BC"),
    ],
)
def test_the_report_number_is_left_for_the_office_with_the_issuers_symbol(
    plan_number: str, report: str
) -> None:
    assert report_number(plan_number) == report
