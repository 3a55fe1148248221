"""The command line as the office uses it: load the seed, record what came in, read the status.
Errors are one readable line and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models import IndicatorValue, Submission, SubmissionFile
from tests.support.cli import Result, run
from tests.support.files import SEED, copy_examples

Capsys = pytest.CaptureFixture[str]
CAMPAIGN = "q1-so-ket-2015"


@pytest.fixture
def seeded(env: str, tmp_path: Path, capsys: Capsys) -> Path:
    files = copy_examples(tmp_path)
    assert run(capsys, "init").code == 0
    loaded = run(capsys, "plan", "load", str(files / SEED))
    assert loaded.code == 0, loaded.err
    assert "63 assignment(s)" in loaded.out
    return files


def ok(capsys: Capsys, *args: str) -> Result:
    result = run(capsys, *args)
    assert result.code == 0, result.err
    return result


def status_of(result: Result, unit: str) -> str:
    line = next(line for line in result.out.splitlines() if f" {unit} " in line)
    return line


def test_status_shows_on_time_late_missing_pending_and_exempt(seeded: Path, capsys: Capsys) -> None:
    ok(capsys, "submit", CAMPAIGN, "LDLD-Q1-BTC", "--at", "2015-11-20 16:00")
    ok(capsys, "submit", CAMPAIGN, "LDLD-Q1-BTG", "--at", "2015-11-21 08:00", "--channel", "email")
    ok(capsys, "submit", CAMPAIGN, "Q1-CD001", "--at", "24/11/2015 23:59")
    ok(capsys, "submit", CAMPAIGN, "Q1-CD002", "--at", "2015-11-25 00:00", "--channel", "zalo")
    ok(capsys, "submit", CAMPAIGN, "Q1-CD004", "--at", "2015-11-26 10:00")
    ok(
        capsys,
        "extend",
        CAMPAIGN,
        "Q1-CD003",
        "--until",
        "đến hết ngày 27/11/2015",
        "--reason",
        "Chủ tịch CĐCS ốm",
    )
    ok(capsys, "exempt", CAMPAIGN, "Q1-CD047", "--reason", "Đang giải thể")

    result = ok(capsys, "status", CAMPAIGN, "--at", "2015-11-25 09:00")

    assert "ban-chuyen-de: 2/7 submitted — 1 on time, 1 late, 5 overdue (missing)" in result.out
    assert (
        "cdcs: 2/55 submitted — 1 pending, 1 on time, 1 late, 52 overdue (missing), 1 exempt"
        in result.out
    )
    assert "on time" in status_of(result, "LDLD-Q1-BTC")
    assert "late" in status_of(result, "LDLD-Q1-BTG")
    assert "on time" in status_of(result, "Q1-CD001")  # 23:59 on the last day
    assert "late" in status_of(result, "Q1-CD002")  # the first minute of the next day
    assert "pending" in status_of(result, "Q1-CD003")
    assert "2015-11-27 23:59 (extended)" in status_of(result, "Q1-CD003")
    assert "overdue" in status_of(result, "Q1-CD004")  # its report came in later than --at
    assert "exempt" in status_of(result, "Q1-CD047")
    later = ok(capsys, "status", CAMPAIGN, "--at", "2015-11-27 09:00", "--status", "late")
    assert "Q1-CD004" in later.out and "Q1-CD001" not in later.out


def test_submit_stores_files_and_figures_as_new_versions(
    seeded: Path, capsys: Capsys, engine: Engine, tmp_path: Path
) -> None:
    report = tmp_path / "bao-cao-cd005.pdf"
    report.write_bytes(b"%PDF-1.4 bao cao so ket")
    first = ok(
        capsys,
        "submit",
        CAMPAIGN,
        "Q1-CD005",
        "--file",
        str(report),
        "--value",
        "so_doan_vien=1.250",
        "--value",
        "xep_loai_2014=vm",
    )
    second = ok(capsys, "submit", CAMPAIGN, "Q1-CD005", "--value", "so_doan_vien=1.260")
    assert "version 1" in first.out and "version 2" in second.out
    with Session(engine) as s:
        subs = s.exec(select(Submission).order_by(col(Submission.version))).all()
        assert [(x.version, x.channel) for x in subs] == [(1, "office"), (2, "office")]
        stored = s.exec(select(SubmissionFile)).one()
        values = {(v.submission_id, v.key): v for v in s.exec(select(IndicatorValue))}
    first_id, second_id = subs[0].id or 0, subs[1].id or 0
    assert (stored.name, stored.size) == ("bao-cao-cd005.pdf", 23)
    assert (Path(os.environ["DONDOC_VAR_DIR"]) / "files" / stored.storage_path).is_file()
    assert values[(first_id, "so_doan_vien")].num_value == 1250
    assert values[(first_id, "xep_loai_2014")].text_value == "VM"
    assert values[(second_id, "so_doan_vien")].num_value == 1260


ERRORS = {
    "unknown campaign": (["status", "nope"], "error: no campaign 'nope'"),
    "unknown unit": (["submit", CAMPAIGN, "Q1-CD999"], "error: no unit 'Q1-CD999'"),
    "bad --at": (["status", CAMPAIGN, "--at", "32/11/2015"], "error: "),
    "bad channel": (["submit", CAMPAIGN, "Q1-CD001", "--channel", "fax"], "channel must be"),
    "figure over its bound": (
        [
            "submit",
            CAMPAIGN,
            "Q1-CD001",
            "--value",
            "so_doan_vien=10",
            "--value",
            "so_doan_vien_nu=12",
        ],
        "so_doan_vien_nu: must not exceed so_doan_vien (10)",
    ),
    "figure not a number": (
        ["submit", CAMPAIGN, "Q1-CD001", "--value", "so_doan_vien=mười"],
        "so_doan_vien: expected a whole number",
    ),
    "missing file": (
        ["submit", CAMPAIGN, "Q1-CD001", "--file", "/nonexistent.pdf"],
        "no such file",
    ),
    "extension not later": (
        ["extend", CAMPAIGN, "Q1-CD001", "--until", "20/11/2015", "--reason", "x"],
        "must be later than the current one",
    ),
    "extension wording": (
        ["extend", CAMPAIGN, "Q1-CD001", "--until", "sau tết", "--reason", "x"],
        "--until:",
    ),
    "exemption without reason": (["exempt", CAMPAIGN, "Q1-CD001", "--reason", " "], "reason"),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_errors_are_one_readable_line(
    seeded: Path, capsys: Capsys, case: tuple[list[str], str]
) -> None:
    args, words = case
    result = run(capsys, *args)
    assert result.code == 1
    assert words in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err + result.out


def test_a_refused_plan_lists_every_problem_and_writes_nothing(
    seeded: Path, capsys: Capsys
) -> None:
    bad = seeded / "bad.yaml"
    text = (seeded / SEED).read_text(encoding="utf-8")
    bad.write_text(
        text.replace("code: q1-so-ket-2015", "code: other-plan")
        .replace("number: 95/KH-LĐLĐ", "number: 96/KH_LĐLĐ")
        .replace("thứ ba 24/11/2015", "thứ hai 24/11/2015"),
        encoding="utf-8",
    )
    result = run(capsys, "plan", "load", str(bad))
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert lines[-1] == "nothing was written (2 problem(s))"
    assert any(f"{bad}:" in line and ": plan.number: " in line for line in lines)
    assert any(": requirements[1].due: " in line for line in lines)
    assert "other-plan" not in ok(capsys, "campaigns").out


def test_plan_check_validates_without_writing(seeded: Path, capsys: Capsys) -> None:
    text = (seeded / SEED).read_text(encoding="utf-8")
    (seeded / "copy.yaml").write_text(text.replace("code: q1-so-ket-2015", "code: copy-1"))
    (seeded / "copy.yaml").write_text(
        (seeded / "copy.yaml").read_text().replace("number: 95/KH-LĐLĐ", "number: 97/KH-LĐLĐ")
    )
    result = ok(capsys, "plan", "check", str(seeded / "copy.yaml"))
    assert "nothing was written" in result.out
    assert "copy-1" not in ok(capsys, "campaigns").out


def test_the_installed_command_prints_no_traceback(env: str, tmp_path: Path) -> None:
    """A real process, as a person runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "dondoc", "status", "nope"],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        check=False,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error:")
