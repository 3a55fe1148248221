"""The reminder and calendar commands as the office runs them on the seed campaign: a preview
that writes and sends nothing, a send-now through a real SMTP server that never sends a step
twice, and a swap day that brings the weekday units' reminder onto a worked Saturday (and takes
it off again when the swap day is removed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models import CalendarDay, Delivery
from tests.support.cli import Result, run
from tests.support.files import SEED, copy_examples
from tests.support.smtp import Inbox, smtp_for_dondoc

Capsys = pytest.CaptureFixture[str]
CAMPAIGN = "q1-so-ket-2015"
DEPARTMENTS_T3 = "17/11/2015 08:05"  # T−3 of the departments' deadline, Fri 20/11
SATURDAY = "21/11/2015"
SATURDAY_MORNING = f"{SATURDAY} 08:05"
Row = tuple[str, str, str]  # (unit, step, channel) of one line of the preview's table


@pytest.fixture
def inbox(env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_for_dondoc(monkeypatch) as received:
        yield received


@pytest.fixture
def seeded(inbox: Inbox, tmp_path: Path, capsys: Capsys) -> Inbox:
    files = copy_examples(tmp_path)
    ok(capsys, "init")
    assert "63 assignment(s)" in ok(capsys, "plan", "load", str(files / SEED)).out
    return inbox


def ok(capsys: Capsys, *args: str) -> Result:
    result = run(capsys, *args)
    assert result.code == 0, result.err
    return result


def preview(capsys: Capsys, at: str) -> tuple[Result, set[Row]]:
    result = ok(capsys, "remind", "preview", CAMPAIGN, "--at", at)
    return result, table_rows(result.out)


def table_rows(out: str) -> set[Row]:
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines()]
    return {(c[0], c[1], c[3]) for c in cells if len(c) == 6 and c[0] != "unit"}


def deliveries(engine: Engine, state: str | None = None) -> list[Delivery]:
    query = select(Delivery).order_by(col(Delivery.id))
    with Session(engine) as session:
        return list(session.exec(query if state is None else query.where(Delivery.state == state)))


def overrides(engine: Engine) -> list[tuple[str, bool, str]]:
    with Session(engine) as session:
        rows = session.exec(select(CalendarDay).order_by(col(CalendarDay.day))).all()
        return [(f"{r.day:%d/%m/%Y}", r.working, r.note) for r in rows]


def test_preview_lists_who_gets_which_step_and_who_is_skipped(
    seeded: Inbox, capsys: Capsys, engine: Engine
) -> None:
    result, rows = preview(capsys, DEPARTMENTS_T3)

    assert "as of 2015-11-17 08:05 (Asia/Ho_Chi_Minh): 7 message(s)" in result.out
    assert ("LDLD-Q1-BTC", "before-3", "email") in rows
    assert {step for _, step, _ in rows} == {"before-3"}
    assert {unit for unit, _, _ in rows} == {
        f"LDLD-Q1-{d}" for d in ("BNC", "BTC", "BTG", "CSPL", "QHLD", "TCKT", "UBKT")
    }
    # The CĐCS' deadline (24/11) is further off; two of them cannot be reached at all.
    assert "skipped: 54 not_due, 2 no_contact" in result.out
    assert "no usable contact: Q1-CD055 (cdcs)" in result.out
    assert "no usable contact: Q1-CD056 (cdcs)" in result.out
    assert "truongban.ldld-q1-btc@example.invalid" not in result.out  # addresses are masked


def test_preview_writes_nothing_and_sends_nothing(
    seeded: Inbox, capsys: Capsys, engine: Engine
) -> None:
    _, rows = preview(capsys, DEPARTMENTS_T3)

    assert rows
    assert deliveries(engine) == []
    assert seeded.messages == []
    assert preview(capsys, DEPARTMENTS_T3)[1] == rows  # nothing was claimed by the first one


def test_send_now_mails_each_planned_message_and_never_twice(
    seeded: Inbox, capsys: Capsys, engine: Engine
) -> None:
    first = ok(capsys, "remind", "send-now", CAMPAIGN, "--at", DEPARTMENTS_T3)

    sent = deliveries(engine, "sent")
    assert "dispatched: {'sent':" in first.out
    assert len([d for d in sent if d.step_key == "before-3"]) == 7
    assert len(seeded.messages) == len(sent) == len(deliveries(engine))
    assert {d.recipient for d in sent} == {r for _, rcpts in seeded.envelopes for r in rcpts}

    again = ok(capsys, "remind", "send-now", CAMPAIGN, "--at", DEPARTMENTS_T3)

    assert "0 message(s) planned" in again.out and "dispatched: nothing due" in again.out
    assert len(seeded.messages) == len(sent)
    assert len(deliveries(engine)) == len(sent)


def test_a_worked_saturday_brings_the_weekday_units_reminder_onto_it(
    seeded: Inbox, capsys: Capsys
) -> None:
    _, before = preview(capsys, SATURDAY_MORNING)
    assert {unit for unit, _, _ in before} == {"Q1-CD039"}  # the one Mon–Sat CĐCS

    set_ = ok(capsys, "calendar", "set", SATURDAY, "--working", "--note", "Làm bù ngày 02/9")
    listed = ok(capsys, "calendar", "list")
    _, after = preview(capsys, SATURDAY_MORNING)

    assert set_.out.strip() == "21/11/2015: working day"
    assert listed.out == "21/11/2015\tworking day\tLàm bù ngày 02/9\n"  # tab-separated
    # A Mon–Fri CĐCS's T−3 moves from Thu 19/11 to Fri 20/11; on the Saturday it is still due.
    assert ("Q1-CD001", "before-3", "email") in after - before
    assert before < after


def test_unset_removes_the_swap_day_and_its_effect(
    seeded: Inbox, capsys: Capsys, engine: Engine
) -> None:
    _, before = preview(capsys, SATURDAY_MORNING)
    ok(capsys, "calendar", "set", SATURDAY, "--working", "--note", "nhập nhầm")

    removed = ok(capsys, "calendar", "unset", SATURDAY)

    assert removed.out.startswith("21/11/2015: override removed")
    assert ok(capsys, "calendar", "list").out.startswith("no overrides")
    assert overrides(engine) == []
    assert preview(capsys, SATURDAY_MORNING)[1] == before


CALENDAR_ERRORS = {
    "no such date": (["set", "31/11/2015", "--working"], "error: day: there is no such day as"),
    "not a date": (["set", "thứ bảy", "--off"], "error: day: expected a date like"),
    "unset, no such date": (["unset", "30/02/2016"], "error: day: there is no such day as"),
    "unset, no override": (["unset", "22/11/2015"], "error: day: 22/11/2015 has no override"),
    "note too long": (
        ["set", SATURDAY, "--off", "--note", "x" * 256],
        "error: note: at most 255 characters, got 256",
    ),
}


@pytest.mark.parametrize("case", CALENDAR_ERRORS.values(), ids=CALENDAR_ERRORS.keys())
def test_calendar_errors_are_one_line_and_change_nothing(
    seeded: Inbox, capsys: Capsys, engine: Engine, case: tuple[list[str], str]
) -> None:
    ok(capsys, "calendar", "set", SATURDAY, "--working", "--note", "Làm bù")
    args, words = case

    result = run(capsys, "calendar", *args)

    assert result.code == 1
    assert result.err.strip().startswith(words)
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err + result.out
    assert overrides(engine) == [("21/11/2015", True, "Làm bù")]
