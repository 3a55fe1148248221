"""The issue's "done when": the seed campaign replayed tick by tick with frozen clocks, from
Mon 16/11 to Thu 10/12/2015, on email (a real SMTP server on loopback) and Zalo (the fake Zalo
API on loopback), on SQLite and PostgreSQL.

What goes out each day is compared with a table written by hand from the plan's policy (T−3,
T−1, the deadline's morning, then every 2 working days at most 3 times, the chair from the 2nd
overdue reminder), not computed by the code under test. The campaign lives meanwhile: a
department submits, a CĐCS is exempted, one gets an extension, one submits late, and the CĐCS
intake closes on Fri 27/11 17:00 (the plan's hard close)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from dondoc.intake import record_submission
from dondoc.office import exempt, extend
from dondoc.rules.deadlines import VN_TZ, parse_deadline, parse_local_datetime
from dondoc.settings import get_settings
from models import Assignment, Contact, Delivery, Requirement, Unit
from models.enums import Channel
from tests.support.fake_zalo import World

pytest_plugins = ["tests.support.fake_zalo"]

DEPARTMENTS = frozenset(
    ["LDLD-Q1-BTC", "LDLD-Q1-BTG", "LDLD-Q1-CSPL", "LDLD-Q1-BNC", "LDLD-Q1-TCKT",
     "LDLD-Q1-QHLD", "LDLD-Q1-UBKT"]
)  # fmt: skip
CDCS = frozenset(f"Q1-CD{n:03}" for n in range(1, 57))  # CD055, CD056: nghiệp đoàn on Zalo only
MON_SAT = "Q1-CD039"  # works Saturdays: its T−3 of Tue 24/11 is Fri 20/11
SUBMITS_EARLY = "LDLD-Q1-BTG"  # the office records its paper report on Wed 18/11
EXEMPTED = "Q1-CD003"  # exempted on Wed 18/11, before any CĐCS reminder
EXTENDED = "Q1-CD004"  # on Mon 23/11 (after its T−1): until the end of Fri 27/11
SUBMITS_LATE = "Q1-CD005"  # on Wed 25/11, the day after its deadline

BAN, CD = "ban-chuyen-de", "cdcs"
LIVE_DEPTS = DEPARTMENTS - {SUBMITS_EARLY}
# (day, requirement, deadline version, step) → the units reminded; any other day: nothing.
EXPECTED: dict[tuple[date, str, int, str], frozenset[str]] = {
    (date(2015, 11, 17), BAN, 0, "before-3"): DEPARTMENTS,  # Tue: T−3 of Fri 20/11
    (date(2015, 11, 19), BAN, 0, "before-1"): LIVE_DEPTS,
    (date(2015, 11, 19), CD, 0, "before-3"): CDCS - {MON_SAT, EXEMPTED},  # T−3 of Tue 24/11
    (date(2015, 11, 20), BAN, 0, "due"): LIVE_DEPTS,
    (date(2015, 11, 20), CD, 0, "before-3"): frozenset({MON_SAT}),  # Sat 21/11 counts for it
    (date(2015, 11, 23), CD, 0, "before-1"): CDCS - {EXEMPTED},
    (date(2015, 11, 24), BAN, 0, "overdue-1"): LIVE_DEPTS,  # 20/11 + 2 working days
    (date(2015, 11, 24), CD, 0, "due"): CDCS - {EXEMPTED, EXTENDED},
    (date(2015, 11, 24), CD, 1, "before-3"): frozenset({EXTENDED}),  # T−3 of Fri 27/11
    (date(2015, 11, 26), BAN, 0, "overdue-2"): LIVE_DEPTS,  # escalated: the chair too
    (date(2015, 11, 26), CD, 0, "overdue-1"): CDCS - {EXEMPTED, EXTENDED, SUBMITS_LATE},
    (date(2015, 11, 26), CD, 1, "before-1"): frozenset({EXTENDED}),
    (date(2015, 11, 27), CD, 1, "due"): frozenset({EXTENDED}),
    # Sat 28/11 would be CD039's overdue-2 and Mon 30/11 everyone else's: the intake closed.
    (date(2015, 11, 30), BAN, 0, "overdue-3"): LIVE_DEPTS,  # the last one (overdue_max 3)
}
ESCALATED = {(BAN, "overdue-2"), (BAN, "overdue-3")}
# Ticks through each day: before the window, just after the 08:00 send time, midday, the
# window's last quarter, after it and at night (the dispatcher runs round the clock).
CLOCKS = ("07:00", "08:05", "11:30", "16:45", "17:30", "22:00")

NOT_REMINDERS = ("Xác nhận đã nhận báo cáo", "Tình hình nộp báo cáo")  # receipts, digests
Sent = tuple[str, str, int, str, str, str, str, str | None]  # unit, req, ver, step, kind, channel…


def at(text: str) -> datetime:
    return parse_local_datetime(text, VN_TZ)


def test_the_seed_campaign_sends_exactly_the_reminders_the_policy_says_on_its_days(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for channel in ("EMAIL", "ZALO"):  # loopback servers: no need to pace (5 emails/s otherwise)
        monkeypatch.setenv(f"DONDOC_{channel}_PER_SECOND", "0")
    get_settings.cache_clear()
    sent: dict[tuple[date, str], list[Sent]] = defaultdict(list)
    events = {
        date(2015, 11, 18): life_on_the_18th,
        date(2015, 11, 23): extension_on_the_23rd,
        date(2015, 11, 25): late_report_on_the_25th,
    }
    seen: set[int] = set()
    day = date(2015, 11, 16)
    while day <= date(2015, 12, 10):
        for clock in CLOCKS:
            world.tick(at(f"{day:%Y-%m-%d} {clock}"))
            for row in new_reminders(world, seen):
                sent[(day, clock)].append(row)
            if clock == "08:05" and day in events:
                events[day](world, at(f"{day:%Y-%m-%d} 10:00"))
        day += timedelta(days=1)

    # Everything goes out on the first tick after 08:00 of its day, nothing at other hours.
    assert {clock for _, clock in sent} == {"08:05"}
    got: dict[tuple[date, str, int, str], set[str]] = defaultdict(set)
    for (day, _), rows in sent.items():
        for unit, req, version, step, *_ in rows:
            got[(day, req, version, step)].add(unit)
    assert dict(got) == {k: set(v) for k, v in EXPECTED.items()}
    rows = [row for day_rows in sent.values() for row in day_rows]
    assert_each_unit_reached_on_its_ways(world, rows)
    assert_what_the_servers_received(world, rows)


def new_reminders(world: World, seen: set[int]) -> list[Sent]:
    """Reminder rows sent since the last call (office digests and receipts left out)."""
    with Session(world.engine) as session:
        rows = session.exec(
            select(Delivery, Unit.code, Requirement.code)
            .join(Assignment, col(Assignment.id) == Delivery.assignment_id)
            .join(Unit, col(Unit.id) == Assignment.unit_id)
            .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
            .where(Delivery.state == "sent", col(Delivery.id).not_in(seen or {0}),
                   col(Delivery.kind).in_(("before", "due_today", "overdue", "escalation")))
        ).all()  # fmt: skip
    seen.update(d.id or 0 for d, _, _ in rows)
    return [
        (unit, req, d.deadline_version, d.step_key, d.kind, d.channel, d.recipient, d.contact_role)
        for d, unit, req in rows
    ]


def assert_each_unit_reached_on_its_ways(world: World, rows: list[Sent]) -> None:
    """Each reminder reaches every way its unit's people agreed to (email, Zalo), once, and the
    chair only when escalated; kinds follow the steps."""
    ways = unit_ways(world)
    by_step: dict[tuple[str, str, int, str], Counter[tuple[str, str, str | None]]] = defaultdict(
        Counter
    )
    for unit, req, version, step, kind, channel, recipient, role in rows:
        by_step[(unit, req, version, step)][(channel, recipient, role)] += 1
        expected_kind = {"before": "before", "due": "due_today"}.get(step.split("-")[0])
        if (req, step) in ESCALATED:
            expected_kind = "escalation"
        assert kind == (expected_kind or "overdue"), (unit, step, kind)
    for (unit, req, _, step), got in by_step.items():
        assert max(got.values()) == 1, (unit, step, got)  # never twice
        escalated = (req, step) in ESCALATED
        expected = {w for w in ways[unit] if escalated or w[2] != "chair" or only_chair(ways, unit)}
        assert set(got) == expected, (unit, step)
    assert {c for (unit, *_), got in by_step.items() if unit in {"Q1-CD055", "Q1-CD056"}
            for c, _, _ in got} == {"zalo"}  # fmt: skip


def unit_ways(world: World) -> dict[str, set[tuple[str, str, str | None]]]:
    ways: dict[str, set[tuple[str, str, str | None]]] = defaultdict(set)
    with Session(world.engine) as session:
        for contact, code in session.exec(
            select(Contact, Unit.code).join(Unit, col(Unit.id) == Contact.unit_id)
        ).all():
            if contact.email and contact.consent_email:
                ways[code].add(("email", contact.email, contact.role))
            if contact.zalo_phone and contact.consent_zalo:
                digits = "".join(ch for ch in contact.zalo_phone if ch.isdigit())
                ways[code].add(
                    ("zalo", f"84{digits[1:]}" if digits[0] == "0" else digits, contact.role)
                )
    return ways


def only_chair(ways: dict[str, set[tuple[str, str, str | None]]], unit: str) -> bool:
    return {role for _, _, role in ways[unit]} == {"chair"}


def assert_what_the_servers_received(world: World, rows: list[Sent]) -> None:
    """One message at the SMTP server or the fake Zalo per sent row, to its recipient, and
    nothing else but the office's digests and the receipts of the two reports."""
    emails = Counter(r[6] for r in rows if r[5] == "email")
    received = Counter(
        address
        for message, (_, rcpts) in zip(world.inbox.messages, world.inbox.envelopes, strict=True)
        if not str(message["Subject"]).startswith(NOT_REMINDERS)
        for address in rcpts
    )
    assert received == emails
    zalo = Counter(r[6] for r in rows if r[5] == "zalo")
    assert Counter(m["phone"] for m in world.fake.messages) == zalo


def life_on_the_18th(world: World, now: datetime) -> None:
    with Session(world.engine) as session:
        record_submission(session, assignment=assignment_of(session, SUBMITS_EARLY),
                          received_at=now, channel=Channel.OFFICE, recorded_by="vanphong",
                          now=now)  # fmt: skip
        exempt(session, assignment_of(session, EXEMPTED), reason="Giải thể", by="vanphong",
               now=now)  # fmt: skip
        session.commit()


def extension_on_the_23rd(world: World, now: datetime) -> None:
    with Session(world.engine) as session:
        row = assignment_of(session, EXTENDED)
        extend(session, row, session.get_one(Requirement, row.requirement_id),
               until=parse_deadline("đến hết ngày 27/11/2015"), reason="Chủ tịch CĐCS đi công tác",
               by="vanphong", now=now, tz=VN_TZ)  # fmt: skip
        session.commit()


def late_report_on_the_25th(world: World, now: datetime) -> None:
    with Session(world.engine) as session:
        record_submission(session, assignment=assignment_of(session, SUBMITS_LATE),
                          received_at=now, channel=Channel.EMAIL, recorded_by="vanphong",
                          now=now)  # fmt: skip
        session.commit()


def assignment_of(session: Session, unit: str) -> Assignment:
    return session.exec(
        select(Assignment).join(Unit, col(Unit.id) == Assignment.unit_id).where(Unit.code == unit)
    ).one()
