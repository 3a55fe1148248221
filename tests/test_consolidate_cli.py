"""The office's consolidation commands through the real `dondoc` entry point: preview, run now,
list, accept and roll up into the city campaign."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Result, run
from tests.support.consolidating import requirement_units, send_report
from tests.support.tracking import CAMPAIGN, load_city, load_seed, local

Capsys = pytest.CaptureFixture[str]


def ok(capsys: Capsys, *args: str) -> Result:
    result = run(capsys, *args)
    assert result.code == 0, result.err
    return result


@pytest.fixture
def seed_half_in(env: str, tmp_path: Path) -> Path:
    """The seed and its city plan; the first 20 CĐCS have reported (accepted)."""
    load_seed(tmp_path / "plans")
    load_city(tmp_path / "plans")
    from dondoc.db import session_scope

    with session_scope() as session:
        codes = [u.code for u in requirement_units(session, CAMPAIGN, "cdcs")][:20]
    for code in codes:
        send_report(CAMPAIGN, code, local("2015-11-23 09:00"), {})
    return tmp_path


def test_a_preview_writes_the_files_and_records_nothing(seed_half_in: Path, capsys: Capsys) -> None:
    out = seed_half_in / "preview"

    ok(
        capsys,
        "consolidate",
        CAMPAIGN,
        "-r",
        "cdcs",
        "--preview",
        str(out),
        "--at",
        "2015-11-24 10:00",
    )

    assert sorted(p.name for p in (out / "cdcs").iterdir()) == [
        "q1-so-ket-2015_cdcs_bao-cao-cac-don-vi.zip",
        "q1-so-ket-2015_cdcs_du-thao-bao-cao.docx",
        "q1-so-ket-2015_cdcs_tong-hop.xlsx",
    ]
    assert "no consolidation yet" in ok(capsys, "consolidations", CAMPAIGN).out


def test_run_now_twice_on_the_same_state_is_one_version_then_accept_rolls_up(
    seed_half_in: Path, capsys: Capsys
) -> None:
    first = ok(capsys, "consolidate", CAMPAIGN, "-r", "cdcs", "--at", "2015-11-24 10:00")
    again = ok(capsys, "consolidate", CAMPAIGN, "-r", "cdcs", "--at", "2015-11-24 10:30")
    accepted = ok(capsys, "accept-consolidation", CAMPAIGN, "cdcs", "1", "--by", "vanphong",
                  "--at", "2015-11-25 08:00")  # fmt: skip
    listed = ok(capsys, "consolidations", CAMPAIGN)

    assert "cdcs: version 1 (manual), 20/56 submitted, 36 missing" in first.out
    assert "cdcs: version 1 (manual)" in again.out
    assert "rolled up as submission" in accepted.out
    assert "cdcs v1: manual as of 24/11/2015 10:00, 20/56 submitted" in listed.out
    assert "accepted by vanphong, rolled up" in " ".join(listed.out.split())
    status = ok(capsys, "status", "hcm-78-2015", "--at", "2015-11-25 09:00").out
    assert "ldld-quan-huyen: 1/3 submitted" in status  # LĐLĐ Q1's report, in the city's campaign
    line = next(line for line in status.splitlines() if " LDLD-Q1 " in line)
    assert "on time" in line and "rollup" in line


def test_unknown_requirement_and_version_are_one_readable_line(
    seed_half_in: Path, capsys: Capsys
) -> None:
    wrong = run(capsys, "consolidate", CAMPAIGN, "-r", "nope")
    missing = run(capsys, "accept-consolidation", CAMPAIGN, "cdcs", "9")

    assert wrong.code == 1 and "has no requirement 'nope' (ban-chuyen-de, cdcs)" in wrong.err
    assert missing.code == 1 and "has no consolidation version 9" in missing.err
