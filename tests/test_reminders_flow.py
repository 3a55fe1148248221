"""The seed campaign replayed with frozen clocks: the reminders the policy says, on the days it
says, once each, through a real SMTP server; units that submit or get an extension between
planning and sending are skipped."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.intake import record_submission
from dondoc.links import resolve
from dondoc.office import extend
from dondoc.outbox import enqueue
from dondoc.plans.loader import load_plan
from dondoc.reminding import plan_campaign
from dondoc.remindrun import dispatch_due, plan_and_enqueue
from dondoc.rules.deadlines import VN_TZ, parse_deadline, parse_local_datetime
from dondoc.settings import get_settings
from dondoc.settle import settle
from models import Assignment, Campaign, Contact, Delivery, Requirement, Unit, UploadLink
from models.enums import Channel
from tests.support.files import SEED, copy_examples
from tests.support.smtp import Inbox, smtp_server

pytest_plugins = ["tests.prefect_harness"]


def at(text: str) -> datetime:
    return parse_local_datetime(text, VN_TZ)


@pytest.fixture
def mail(env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("DONDOC_SMTP_URL", f"mailto://127.0.0.1:{port}")
        monkeypatch.setenv("DONDOC_SECRET_KEY", "test-secret")
        get_settings.cache_clear()
        yield inbox


@pytest.fixture
def campaign_id(engine: Engine, tmp_path: Path, mail: Inbox) -> int:
    with Session(engine) as session:
        load_plan(
            session,
            copy_examples(tmp_path) / SEED,
            now=at("2015-11-05 09:00"),
            actor="test",
            tz=VN_TZ,
        )
        session.commit()
        return session.exec(select(Campaign.id).where(Campaign.code == "q1-so-ket-2015")).one() or 0


def tick(engine: Engine, campaign_id: int, when: str) -> Counter[str]:
    now = at(when)
    plan_and_enqueue(engine, campaign_id, now=now, settings=get_settings())
    return dispatch_due(engine, now=now, settings=get_settings(), worker="test")


def plan_then_dispatch(
    engine: Engine, campaign_id: int, planned: str, dispatched: str, step: str
) -> list[Delivery]:
    """Plan at one moment, dispatch at a later one with no tick between; the rows of `step`."""
    plan_and_enqueue(engine, campaign_id, now=at(planned), settings=get_settings())
    dispatch_due(engine, now=at(dispatched), settings=get_settings(), worker="test")
    with Session(engine) as session:
        return list(session.exec(select(Delivery).where(Delivery.step_key == step)).all())


def steps(engine: Engine, state: str = "sent") -> Counter[tuple[str, str]]:
    """(requirement code, step key) of the deliveries in a state."""
    with Session(engine) as session:
        rows = session.exec(
            select(Requirement.code, Delivery.step_key)
            .join(Assignment, col(Assignment.id) == Delivery.assignment_id)
            .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
            .where(Delivery.state == state)
        ).all()
    return Counter(rows)


def assignment(engine: Engine, unit: str) -> tuple[Assignment, Requirement]:
    with Session(engine) as session:
        row = session.exec(
            select(Assignment, Requirement)
            .join(Unit, col(Unit.id) == Assignment.unit_id)
            .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
            .where(Unit.code == unit)
        ).one()
        return row[0], row[1]


def test_the_seed_campaign_gets_the_reminders_the_policy_says(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    tick(engine, campaign_id, "2015-11-16 08:05")
    assert steps(engine) == Counter()  # no unit is due a reminder yet (the office's digest is)
    tick(engine, campaign_id, "2015-11-17 08:05")  # T−3 of Fri 20/11
    after_t3 = steps(engine)
    assert set(after_t3) == {("ban-chuyen-de", "before-3")}
    assert after_t3[("ban-chuyen-de", "before-3")] >= 7  # each department, ≥ 1 contact
    with Session(engine) as session:  # what the SMTP server got is what the outbox sent
        assert len(mail.messages) == len(session.exec(select(Delivery.id).where(
            Delivery.state == "sent")).all())  # fmt: skip
    assert tick(engine, campaign_id, "2015-11-17 10:00") == Counter()  # never twice
    tick(engine, campaign_id, "2015-11-19 08:05")  # T−1 of 20/11 and T−3 of Tue 24/11
    assert {k for k in steps(engine)} == {
        ("ban-chuyen-de", "before-3"),
        ("ban-chuyen-de", "before-1"),
        ("cdcs", "before-3"),
    }
    tick(engine, campaign_id, "2015-11-20 08:05")  # the departments' deadline day
    assert ("ban-chuyen-de", "due") in steps(engine)
    tick(engine, campaign_id, "2015-11-21 08:05")  # Saturday: only Saturday-working units
    saturday = {k for k in steps(engine)} - {
        ("ban-chuyen-de", "before-3"),
        ("ban-chuyen-de", "before-1"),
        ("cdcs", "before-3"),
        ("ban-chuyen-de", "due"),
    }
    assert saturday <= {("cdcs", "before-1")}
    body = next(b for b in map(mail.text, mail.messages) if "24/11/2015" in b and "/u/" in b)
    assert "23:59 thứ Ba, ngày 24/11/2015" in body and "/u/" in body


def test_a_unit_that_submits_between_planning_and_sending_is_skipped(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    now = at("2015-11-19 08:05")
    plan_and_enqueue(engine, campaign_id, now=now, settings=get_settings())
    cd001, _ = assignment(engine, "Q1-CD001")
    with Session(engine) as session:
        record_submission(
            session,
            assignment=cd001,
            received_at=at("2015-11-19 08:06"),
            channel=Channel.OFFICE,
            now=now,
        )
        session.commit()
    dispatch_due(engine, now=at("2015-11-19 08:10"), settings=get_settings(), worker="test")
    with Session(engine) as session:
        rows = session.exec(select(Delivery).where(Delivery.assignment_id == cd001.id)).all()
    assert rows and {r.state for r in rows} == {"skipped"}
    assert not mail.to(rows[0].recipient)


def test_an_extension_between_planning_and_sending_skips_the_old_step(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    now = at("2015-11-19 08:05")
    plan_and_enqueue(engine, campaign_id, now=now, settings=get_settings())
    cd002, req = assignment(engine, "Q1-CD002")
    with Session(engine) as session:
        row = session.get_one(Assignment, cd002.id)
        extend(
            session,
            row,
            req,
            until=parse_deadline("đến hết ngày 04/12/2015"),
            reason="Ốm",
            by="test",
            now=now,
            tz=VN_TZ,
        )
        session.commit()
    dispatch_due(engine, now=at("2015-11-19 08:10"), settings=get_settings(), worker="test")
    with Session(engine) as session:
        old = session.exec(select(Delivery).where(Delivery.assignment_id == cd002.id)).all()
    assert {(r.deadline_version, r.state) for r in old} == {(0, "skipped")}
    # The new deadline (Fri 04/12) has steps of its own: T−3 is Tue 01/12.
    tick(engine, campaign_id, "2015-12-01 08:05")
    with Session(engine) as session:
        new = session.exec(
            select(Delivery).where(
                Delivery.assignment_id == cd002.id, Delivery.deadline_version == 1
            )
        ).all()
    assert {(r.step_key, r.state) for r in new} == {("before-3", "sent")}


def test_the_text_is_written_when_it_is_sent_with_the_days_left_then(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    plan_and_enqueue(engine, campaign_id, now=at("2015-11-17 08:05"), settings=get_settings())
    with Session(engine) as session:
        planned = session.exec(select(Delivery).where(Delivery.step_key == "before-3")).all()
        assert planned and {(d.subject, d.body) for d in planned} == {(None, None)}
        assert session.exec(select(UploadLink)).all() == []  # no link before a message needs one
    # Sent a working day late (the dispatcher was down on the 17th): T−3's row now says 2.
    dispatch_due(engine, now=at("2015-11-18 08:05"), settings=get_settings(), worker="test")
    with Session(engine) as session:
        sent = session.exec(
            select(Delivery).where(Delivery.state == "sent", Delivery.step_key == "before-3")
        ).all()
        links = session.exec(select(UploadLink)).all()
    assert len(sent) == len(planned)
    for row in sent:
        [message] = mail.to(row.recipient)
        assert row.subject == message["subject"] and row.body
        assert "còn 2 ngày làm việc" in mail.text(message) and "còn 2 ngày" in row.body
    assert links and {link.created_by for link in links} == {"reminders"}  # issued at send time
    with Session(engine) as session:  # each text carries its own unit's link
        for row in sent:
            found = re.search(r"/u/([\w-]+)", row.body or "")
            link = resolve(session, found.group(1) if found else "")
            owner = session.get_one(Assignment, row.assignment_id)
            assert link is not None and link.unit_id == owner.unit_id


def test_a_reminder_sent_again_a_day_later_counts_its_days_again(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    tick(engine, campaign_id, "2015-11-17 08:05")  # T−3 of Fri 20/11: "còn 3 ngày"
    with Session(engine) as session:
        row = session.exec(select(Delivery).where(Delivery.step_key == "before-3")).first()
        assert row is not None and row.body and "còn 3 ngày làm việc" in row.body
        row.state = "unknown"  # the SMTP server's answer was lost; the office resends it
        session.add(row)
        session.commit()
        row_id, recipient = row.id or 0, row.recipient
        settle(session, row_id, sent=False, by="vanphong", now=at("2015-11-18 08:01"))
        session.commit()
    dispatch_due(engine, now=at("2015-11-18 08:05"), settings=get_settings(), worker="test")
    again = mail.to(recipient)[-1]
    assert "còn 2 ngày làm việc" in mail.text(again)


def test_a_reminder_before_the_deadline_is_not_sent_on_the_deadline_day(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    # Held until the departments' deadline day: "before the deadline" would now be false.
    rows = plan_then_dispatch(engine, campaign_id, "2015-11-19 08:05", "2015-11-20 08:05",
                              "before-1")  # fmt: skip
    assert rows and {r.state for r in rows} == {"skipped"}
    assert {r.last_error for r in rows} == {"superseded by due"}
    assert not [m for r in rows for m in mail.to(r.recipient)]


def test_a_step_left_waiting_through_a_downtime_gives_way_to_the_later_one(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    plan_and_enqueue(engine, campaign_id, now=at("2015-11-17 08:05"), settings=get_settings())
    # No dispatcher ran from T−3 to T−1: the T−3 rows are still waiting when T−1 is planned.
    tick(engine, campaign_id, "2015-11-19 08:05")
    assert set(steps(engine, "skipped")) == {("ban-chuyen-de", "before-3")}
    assert ("ban-chuyen-de", "before-3") not in steps(engine)
    with Session(engine) as session:
        stale = session.exec(select(Delivery).where(Delivery.step_key == "before-3",
                                                    Delivery.state == "skipped")).all()  # fmt: skip
        fresh = session.exec(select(Delivery).where(Delivery.step_key == "before-1")).all()
    assert {r.last_error for r in stale} == {"superseded by before-1"}
    assert fresh and {r.state for r in fresh} == {"sent"}
    for row in fresh:  # one message per recipient, the later step's: never both
        [message] = mail.to(row.recipient)
        assert "còn 1 ngày làm việc" in mail.text(message)


def test_a_reminder_that_comes_due_out_of_hours_waits_for_the_next_working_morning(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    # A retry or a deferral can come due at any hour; the dispatcher runs round the clock.
    held = plan_then_dispatch(engine, campaign_id, "2015-11-17 08:05", "2015-11-17 17:30",
                              "before-3")  # fmt: skip
    assert held and {r.state for r in held} == {"pending"}
    assert {r.not_before for r in held} == {at("2015-11-18 07:30")}  # the window's opening
    assert {r.attempts for r in held} == {0}  # nothing went out: no attempt counted
    assert not [m for r in held for m in mail.to(r.recipient)]
    dispatch_due(engine, now=at("2015-11-18 07:30"), settings=get_settings(), worker="test")
    for row in held:
        [message] = mail.to(row.recipient)
        assert "còn 2 ngày làm việc" in mail.text(message)  # counted when it went out


def test_a_reminder_due_on_friday_evening_waits_for_its_units_next_working_day(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    plan_and_enqueue(engine, campaign_id, now=at("2015-11-20 08:05"), settings=get_settings())
    dispatch_due(engine, now=at("2015-11-20 18:00"), settings=get_settings(), worker="test")
    with Session(engine) as session:
        held = session.exec(
            select(Delivery, Unit.calendar)
            .join(Assignment, col(Assignment.id) == Delivery.assignment_id)
            .join(Unit, col(Unit.id) == Assignment.unit_id)
            .where(Delivery.step_key == "due")
        ).all()
    assert held and {r.state for r, _ in held} == {"pending"}
    opening = {"mon_fri": at("2015-11-23 07:30"), "mon_sat": at("2015-11-21 07:30")}
    assert [r.not_before for r, _ in held] == [opening[week] for _, week in held]


def test_the_preview_plans_without_writing(engine: Engine, campaign_id: int) -> None:
    with Session(engine) as session:
        campaign = session.get_one(Campaign, campaign_id)
        plan = plan_campaign(
            session, campaign, now=at("2015-11-17 08:05"), settings=get_settings(), zalo=False
        )
        session.rollback()
        assert enqueue(session, [], now=at("2015-11-17 08:05")) == 0
        assert session.exec(select(Delivery)).all() == []
    assert {d.step_key for d in plan.deliveries} == {"before-3"}
    reasons = Counter(s.reason for s in plan.skipped)
    assert reasons["not_due"] == 54  # the CĐCS: their T−3 is Thursday
    # Two nghiệp đoàn read Zalo only, and Zalo is not set up here: listed, never dropped.
    no_contact = {s.unit_code for s in plan.skipped if s.reason == "no_contact"}
    assert no_contact == {"Q1-CD055", "Q1-CD056"}


def test_the_flow_plans_and_sends_once(engine: Engine, campaign_id: int, mail: Inbox) -> None:
    from flows.reminders import send_reminders

    first = send_reminders(now=at("2015-11-17 08:05"))
    second = send_reminders(now=at("2015-11-17 08:20"))
    assert first.get("sent", 0) == len(mail.messages) > 0
    assert second.get("sent", 0) == 0


def test_the_unit_page_shows_each_reminder_and_its_outcome(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    from fastapi.testclient import TestClient

    from dondoc.accounts import create_user
    from tests.support.office import PASSWORD, USERNAME, login
    from web.app import create_app
    from web.deps import get_now

    tick(engine, campaign_id, "2015-11-17 08:05")
    with Session(engine) as session:
        create_user(session, username=USERNAME, display_name="Văn phòng", password=PASSWORD,
                    now=at("2015-11-17 08:00"))  # fmt: skip
        session.commit()
    app = create_app()
    app.dependency_overrides[get_now] = lambda: at("2015-11-17 09:00")
    with TestClient(app) as client:
        assert login(client).status_code == 303
        page = client.get("/office/c/q1-so-ket-2015/u/LDLD-Q1-BTC").text
    assert "Tin nhắn nhắc việc đã gửi" in page
    assert "Nhắc trước hạn (before-3)" in page and "Đã gửi" in page
    assert "@example.invalid" in page and "***" in page  # masked, not the full address


def test_the_office_gets_one_digest_a_working_day_with_a_zalo_group_text(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    tick(engine, campaign_id, "2015-11-25 08:05")  # the day after the CĐCS deadline
    tick(engine, campaign_id, "2015-11-25 11:00")
    digests = [m for m in mail.messages if "Tin nhắn gửi nhóm Zalo" in mail.text(m)]
    office = {r for m in digests for r in m["To"].addresses for r in [r.addr_spec]}
    assert digests and len(digests) == len(office)  # once per office address
    text = mail.text(digests[0])
    assert "CĐCS Ủy ban nhân dân phường Bến Nghé" in text
    assert text.index("phường Bến Nghé") < text.index("Tin nhắn gửi nhóm Zalo")
    tick(engine, campaign_id, "2015-11-28 08:05")  # Saturday: the office does not work
    assert len([m for m in mail.messages if "Tin nhắn gửi nhóm Zalo" in mail.text(m)]) == len(
        digests
    )


def test_the_second_overdue_reminder_goes_to_the_chair_and_the_next_digest_names_the_unit(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    tick(engine, campaign_id, "2015-11-24 08:05")  # overdue-1 of the departments (due 20/11)
    tick(engine, campaign_id, "2015-11-26 08:05")  # overdue-2: escalated
    with Session(engine) as session:
        rows = session.exec(
            select(Delivery, Unit.name)
            .join(Assignment, col(Assignment.id) == Delivery.assignment_id)
            .join(Unit, col(Unit.id) == Assignment.unit_id)
            .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
            .where(col(Delivery.step_key).in_(("overdue-1", "overdue-2")),
                   Requirement.code == "ban-chuyen-de")  # the CĐCS are a step behind
        ).all()  # fmt: skip
    first = {name for row, name in rows if row.step_key == "overdue-1"}
    escalated = {name for row, name in rows if row.step_key == "overdue-2"}
    assert first and escalated == first  # every department still missing
    assert {(r.kind, r.contact_role, r.state) for r, _ in rows if r.step_key == "overdue-2"} == {
        ("escalation", "chair", "sent")
    }
    assert {r.kind for r, _ in rows if r.step_key == "overdue-1"} == {"overdue"}
    tick(engine, campaign_id, "2015-11-27 08:05")
    [digest, *_] = [m for m in mail.messages if "Tin nhắn gửi nhóm Zalo" in mail.text(m)
                    and "27/11/2015" in str(m["Subject"])]  # fmt: skip
    text = mail.text(digest)
    heading = f"đề nghị báo cáo Ban Thường vụ ({len(escalated)}):"
    section = text[text.index(heading) : text.index("II. SỐ LIỆU")]
    assert all(name in section for name in escalated)
    assert "đã báo lãnh đạo đơn vị 08:05 thứ Năm, ngày 26/11/2015" in section


def test_a_unit_reachable_only_on_zalo_while_zalo_is_off_is_listed_not_silently_dropped(
    engine: Engine, campaign_id: int, mail: Inbox
) -> None:
    with Session(engine) as session:
        [unit] = session.exec(select(Unit).where(Unit.name == "CĐCS Trường Mầm non Hoa Sen")).all()
        contacts = session.exec(select(Contact).where(Contact.unit_id == unit.id)).all()
        for contact in contacts:  # they read Zalo only, and this office has not set Zalo up
            contact.consent_email, contact.consent_zalo = False, True
            contact.zalo_phone = contact.zalo_phone or "0900 000 999"
            session.add(contact)
        session.commit()
        code, name, phones = unit.code, unit.name, {c.zalo_phone for c in contacts}
        campaign = session.get_one(Campaign, campaign_id)
        plan = plan_campaign(session, campaign, now=at("2015-11-19 08:05"),
                             settings=get_settings(), zalo=False)  # fmt: skip
    assert [s.reason for s in plan.skipped if s.unit_code == code] == ["no_contact"]
    assert not [d for d in plan.deliveries if d.recipient in phones]
    tick(engine, campaign_id, "2015-11-19 08:05")
    [digest, *_] = [m for m in mail.messages if "Tin nhắn gửi nhóm Zalo" in mail.text(m)]
    text = mail.text(digest)
    listed = text[text.index("IV. ĐƠN VỊ CHƯA CÓ THÔNG TIN LIÊN LẠC") : text.index("Thư này")]
    assert name in listed
