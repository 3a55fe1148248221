"""A Zalo reminder that fails for good falls back to email: the same step and deadline version,
to the unit's contacts who agreed to email, due at once — through the fake Zalo on loopback
and a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.followups import follow_up
from dondoc.outbox import Outcome, Result
from dondoc.rules.deadlines import VN_TZ, parse_local_datetime
from dondoc.settings import get_settings
from models import Assignment, Contact, Delivery, DeliveryAttempt, Unit
from tests.support.fake_zalo import World

UNIT = "LDLD-Q1-BTC"  # Ban Tổ chức: a department, due Fri 20/11/2015 (T−3 is Tue 17/11)
CHAIR = "truongban.ldld-q1-btc@example.invalid"
SECRETARY_ZALO = "84900009001"
CLERK = "vanthu.ldld-q1-btc@example.invalid"

pytest_plugins = ["tests.support.fake_zalo"]


def at(text: str) -> datetime:
    return parse_local_datetime(text, VN_TZ)


def zalo_only_secretary(engine: Engine) -> None:
    """The department's secretary reads Zalo only; its head (chair) reads email only. The
    planner writes to the secretary (the chair is for escalations): by Zalo alone."""
    with Session(engine) as session:
        unit = session.exec(select(Unit).where(Unit.code == UNIT)).one()
        chair = session.exec(select(Contact).where(Contact.unit_id == unit.id)).one()
        chair.consent_zalo = False
        secretary = Contact(unit_id=unit.id or 0, role="secretary", name="Thư ký Ban Tổ chức",
                            zalo_phone=SECRETARY_ZALO, consent_zalo=True)  # fmt: skip
        session.add_all([chair, secretary])
        session.commit()


def unit_rows(engine: Engine) -> list[Delivery]:
    with Session(engine) as session:
        return list(session.exec(
            select(Delivery)
            .join(Assignment, col(Assignment.id) == Delivery.assignment_id)
            .join(Unit, col(Unit.id) == Assignment.unit_id)
            .where(Unit.code == UNIT)
            .order_by(col(Delivery.id))
        ))  # fmt: skip


def test_a_zalo_user_who_cannot_receive_gets_the_step_by_email(world: World) -> None:
    zalo_only_secretary(world.engine)
    world.fake.refuse(SECRETARY_ZALO, -110)  # the user cannot receive template messages

    world.tick(at("2015-11-17 08:05"))

    zalo, email = unit_rows(world.engine)
    assert (zalo.channel, zalo.state, zalo.step_key) == ("zalo", "failed", "before-3")
    assert (email.channel, email.state, email.recipient) == ("email", "sent", CHAIR)
    assert (email.step_key, email.deadline_version, email.kind) == ("before-3", 0, "before")
    [message] = world.inbox.to(CHAIR)
    body = world.inbox.text(message)
    assert "Ban Tổ chức Liên đoàn Lao động quận 1" in body
    assert "23:59 thứ Sáu, ngày 20/11/2015" in body and "còn 3 ngày làm việc" in body
    with Session(world.engine) as session:
        attempt = session.exec(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == zalo.id)
        ).one()
    assert (attempt.outcome, attempt.error_code) == ("permanent", "-110")


def test_the_fallback_goes_to_who_prepares_the_report_not_to_the_chair(world: World) -> None:
    zalo_only_secretary(world.engine)
    with Session(world.engine) as session:  # an office clerk of the department reads email
        unit = session.exec(select(Unit).where(Unit.code == UNIT)).one()
        session.add(Contact(unit_id=unit.id or 0, role="office", name="Văn thư Ban Tổ chức",
                            email=CLERK, consent_email=True))  # fmt: skip
        session.commit()
    world.fake.refuse(SECRETARY_ZALO, -110)

    world.tick(at("2015-11-17 08:05"))

    rows = [(r.channel, r.recipient, r.state) for r in unit_rows(world.engine)]
    # The clerk had the step by email already; the secretary's dead Zalo adds nobody: the
    # chair is written to on escalation, or when nobody else can be.
    assert sorted(rows) == [("email", CLERK, "sent"), ("zalo", SECRETARY_ZALO, "failed")]
    assert world.inbox.to(CHAIR) == [] and len(world.inbox.to(CLERK)) == 1


def test_the_fallback_is_enqueued_once_whatever_repeats_it(world: World) -> None:
    zalo_only_secretary(world.engine)
    world.fake.refuse(SECRETARY_ZALO, -110)
    world.tick(at("2015-11-17 08:05"))
    zalo = unit_rows(world.engine)[0]
    again = partial(follow_up, world.engine, settings=get_settings())
    failed = Result(Outcome.PERMANENT, error_code="-110", fallback_to_email=True)
    again(zalo, failed, at("2015-11-17 08:20"))  # a retried flow, a second worker
    world.tick(at("2015-11-17 10:00"))
    assert [r.channel for r in unit_rows(world.engine)] == ["zalo", "email"]
    assert len(world.inbox.to(CHAIR)) == 1


def test_a_contact_who_has_the_step_by_email_already_gets_nothing_more(world: World) -> None:
    # The seed's head of department reads both: one Zalo refusal, no second email.
    world.fake.refuse("84900001106", -110)
    world.tick(at("2015-11-17 08:05"))
    rows = unit_rows(world.engine)
    assert sorted((r.channel, r.state) for r in rows) == [("email", "sent"), ("zalo", "failed")]
    assert len(world.inbox.to(CHAIR)) == 1


def test_errors_without_fallback_send_no_email(world: World) -> None:
    zalo_only_secretary(world.engine)
    world.fake.refuse(SECRETARY_ZALO, -1121)  # our template data: fixing it is the office's job
    world.tick(at("2015-11-17 08:05"))
    assert [(r.channel, r.state) for r in unit_rows(world.engine)] == [("zalo", "failed")]
    assert world.inbox.to(CHAIR) == []
