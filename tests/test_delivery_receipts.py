"""Receipts and return notices through the outbox: enqueued in the transaction that records the
decision, sent by the dispatcher (never re-checked like a reminder: a receipt goes precisely
to a unit that submitted), once per submission, through a real SMTP server on loopback."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select

from dondoc.campaigns import get_campaign
from dondoc.db import get_engine
from dondoc.office import notify_returned, review
from dondoc.receipts import enqueue_receipt
from dondoc.remindrun import dispatch_due
from dondoc.settings import get_settings
from models import Assignment, Delivery, Requirement, Submission, Unit
from models.enums import Channel
from tests.support.office import CAMPAIGN, REPORT_NAME, load_seed, local, submit
from tests.support.smtp import Inbox, smtp_for_dondoc

UNIT = "Q1-CD001"  # two contacts who agreed to email
CONTACTS = ["chutich.q1-cd001@example.invalid", "thuky.q1-cd001@example.invalid"]


@pytest.fixture
def inbox(env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_for_dondoc(monkeypatch) as received:
        yield received


@pytest.fixture
def submitted(inbox: Inbox, session: Session, tmp_path: Path) -> Submission:
    load_seed(session, tmp_path)
    figures: dict[str, Decimal | str] = {"so_doan_vien": Decimal(1250)}
    submission = submit(session, UNIT, "2015-11-24 16:30", Channel.PORTAL, figures, True)
    session.commit()
    return submission


def acknowledge(session: Session, submission: Submission, unit_id: int) -> int:
    campaign = get_campaign(session, CAMPAIGN)
    added = enqueue_receipt(session, submission.id or 0, campaign_id=campaign.id or 0,
                            unit_id=unit_id, settings=get_settings(),
                            now=local("2015-11-24 16:30"))  # fmt: skip
    session.commit()
    return added


def unit_id(session: Session) -> int:
    return session.exec(select(Unit.id).where(Unit.code == UNIT)).one() or 0


def dispatch(when: str) -> Counter[str]:
    return dispatch_due(get_engine(), now=local(when), settings=get_settings(), worker="test")


def test_a_receipt_goes_to_the_unit_that_submitted_once(
    session: Session, submitted: Submission, inbox: Inbox
) -> None:
    assert acknowledge(session, submitted, unit_id(session)) == 2
    assert acknowledge(session, submitted, unit_id(session)) == 0  # a retried request
    assert inbox.messages == []  # nothing leaves with the request
    assert dispatch("2015-11-24 16:31") == Counter({"sent": 2})
    assert sorted(rcpt for _, [rcpt] in inbox.envelopes) == CONTACTS
    number = f"BC-1-{submitted.id:06d}"
    message = inbox.messages[0]
    assert number in str(message["Subject"])
    body = inbox.text(message)
    assert f"- Số tiếp nhận: {number}" in body
    assert "- Thời điểm nhận: 16:30 thứ Ba, ngày 24/11/2015" in body
    assert "- Hạn nộp: 23:59 thứ Ba, ngày 24/11/2015 (nộp đúng hạn)\n" in body
    assert f"+ {REPORT_NAME} (1 KB)\n" in body and "- Số liệu: đã nhận 1 chỉ tiêu\n" in body
    assert dispatch("2015-11-24 17:00") == Counter()
    with Session(get_engine()) as s:
        rows = s.exec(select(Delivery)).all()
    assert {(r.kind, r.step_key, r.state) for r in rows} == {
        ("receipt", f"receipt-{submitted.id}", "sent")
    }


def test_another_units_submission_gets_no_receipt(
    session: Session, submitted: Submission, inbox: Inbox
) -> None:
    other = session.exec(select(Unit.id).where(Unit.code == "Q1-CD002")).one() or 0
    assert acknowledge(session, submitted, other) == 0


def test_a_returned_version_is_notified_through_the_outbox(
    session: Session, submitted: Submission, inbox: Inbox
) -> None:
    assignment = session.get_one(Assignment, submitted.assignment_id)
    now = local("2015-11-25 09:00")
    review(session, submitted, assignment, accept=False, reason="Thiếu phụ lục số liệu",
           by="vanphong", now=now)  # fmt: skip
    session.commit()
    outcome = notify_returned(
        session, campaign=get_campaign(session, CAMPAIGN),
        requirement=session.get_one(Requirement, assignment.requirement_id),
        assignment=assignment, unit=session.get_one(Unit, assignment.unit_id),
        submission=submitted, settings=get_settings(), by="vanphong", now=now,
    )  # fmt: skip
    session.commit()
    assert (outcome.sent, outcome.failed, inbox.messages) == (2, 0, [])
    assert dispatch("2015-11-25 09:01") == Counter({"sent": 2})
    body = inbox.text(inbox.to(CONTACTS[1])[0])
    assert "Thiếu phụ lục số liệu" in body and "(lần nộp 1, nhận lúc 16:30" in body
    assert "/u/" in body
