"""Receipts and return notices reach the people who read Zalo only: by Zalo when the Official
Account has a template for them (the fake Zalo on loopback), by email to everyone who agreed
to email (a real SMTP server on loopback), never both to one person."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlmodel import Session, col, select

from dondoc.intake import record_submission
from dondoc.office import notify_returned, review
from dondoc.receipts import enqueue_receipt
from dondoc.remindrun import dispatch_due
from dondoc.rules.deadlines import VN_TZ, parse_local_datetime
from dondoc.settings import get_settings
from models import Assignment, Campaign, Contact, Delivery, Requirement, Submission, Unit
from models.enums import Channel
from notifications.zalodata import normalise_phone
from tests.support.fake_zalo import NOTICE_TEMPLATES, World

pytest_plugins = ["tests.support.fake_zalo"]

ZALO_ONLY = "Q1-CD055"  # a nghiệp đoàn whose people read Zalo only (examples/units-q1.csv)
BY_EMAIL = "Q1-CD001"  # both its people agreed to email and Zalo


def at(text: str) -> datetime:
    return parse_local_datetime(text, VN_TZ)


def test_a_zalo_only_unit_gets_its_receipt_and_return_notice_by_zalo(world: World) -> None:
    phones = zalo_phones(world, ZALO_ONLY)
    submission = submit(world, ZALO_ONLY, "2015-11-24 16:30")
    assert dispatch(world, "2015-11-24 16:31") == Counter({"sent": len(phones)})
    receipts = [m for m in world.fake.messages if m["template_id"] == "400005"]
    assert sorted(m["phone"] for m in receipts) == sorted(phones)
    data = receipts[0]["template_data"]
    assert data["receipt_number"] == f"BC-1-{submission:06d}"
    assert data["received_at"] == "16:30 24/11/2015" and "link" not in data
    assert set(data) == set(NOTICE_TEMPLATES["receipt"].params)

    give_back(world, submission, "Thiếu biểu số liệu đoàn viên", "2015-11-25 09:00")
    assert dispatch(world, "2015-11-25 09:01") == Counter({"sent": len(phones)})
    [notice, *_] = [m for m in world.fake.messages if m["template_id"] == "400006"]
    assert notice["template_data"]["return_reason"] == "Thiếu biểu số liệu đoàn viên"
    assert "/u/" in notice["template_data"]["link"]
    assert world.inbox.messages == []  # nobody there reads email


def test_a_unit_that_reads_email_gets_its_receipt_by_email_only(world: World) -> None:
    submit(world, BY_EMAIL, "2015-11-24 16:30")
    sent = dispatch(world, "2015-11-24 16:31")
    assert sent == Counter({"sent": 2}) and len(world.inbox.messages) == 2
    assert world.fake.messages == []  # email reaches them: no second copy on Zalo
    with Session(world.engine) as session:
        channels = session.exec(select(Delivery.channel).where(Delivery.kind == "receipt"))
        assert channels.all() == ["email", "email"]


def zalo_phones(world: World, unit: str) -> list[str]:
    with Session(world.engine) as session:
        contacts = session.exec(
            select(Contact).join(Unit, col(Unit.id) == Contact.unit_id).where(Unit.code == unit)
        ).all()
    assert contacts and not any(c.consent_email for c in contacts)
    return sorted({normalise_phone(c.zalo_phone or "") for c in contacts if c.consent_zalo})


def submit(world: World, unit: str, when: str) -> int:
    with Session(world.engine) as session:
        assignment = session.exec(
            select(Assignment).join(Unit, col(Unit.id) == Assignment.unit_id)
            .where(Unit.code == unit)
        ).one()  # fmt: skip
        row = record_submission(session, assignment=assignment, received_at=at(when),
                                channel=Channel.PORTAL, now=at(when))  # fmt: skip
        enqueue_receipt(session, row.id or 0, campaign_id=world.campaign_id,
                        unit_id=assignment.unit_id, settings=get_settings(),
                        now=at(when))  # fmt: skip
        session.commit()
        return row.id or 0


def give_back(world: World, submission_id: int, reason: str, when: str) -> None:
    with Session(world.engine) as session:
        submission = session.get_one(Submission, submission_id)
        assignment = session.get_one(Assignment, submission.assignment_id)
        review(session, submission, assignment, accept=False, reason=reason, by="vanphong",
               now=at(when))  # fmt: skip
        notify_returned(session, campaign=session.get_one(Campaign, world.campaign_id),
                        requirement=session.get_one(Requirement, assignment.requirement_id),
                        assignment=assignment, unit=session.get_one(Unit, assignment.unit_id),
                        submission=submission, settings=get_settings(), by="vanphong",
                        now=at(when))  # fmt: skip
        session.commit()


def dispatch(world: World, when: str) -> Counter[str]:
    return dispatch_due(world.engine, now=at(when), settings=get_settings(), worker="test")
