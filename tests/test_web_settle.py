"""The office settles a message whose outcome is unknown from the dashboard: on the unit page or
the campaign's list, "Đã nhận (đánh dấu đã gửi)" or "Gửi lại" — once, audited, with the
session's CSRF token. Through HTTP against the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models import AuditEvent, Campaign, Delivery, DeliveryAttempt
from tests import test_web_office as pages
from tests.support.office import NOW, assignment_of, csrf, local
from tests.test_web_office import BASE, act, unit_url

# The office pages' fixtures (seed campaign, mixed reports, a logged-in client), shared.
anon, campaign, client, clock = pages.anon, pages.campaign, pages.client, pages.clock

UNIT = "Q1-CD008"
PHONE = "84900001108"
CONFIRMED = "Đã ghi nhận: tin nhắn “Nhắc trước hạn” qua Zalo tới 84900***108 đã đến người nhận"
AGAIN = "Tin nhắn “Nhắc trước hạn” qua Zalo tới 84900***108 sẽ được gửi lại"
LIST = f"{BASE}/unknown"


@pytest.fixture
def unknown(session: Session, campaign: Campaign) -> int:
    """A Zalo reminder to the unit that timed out after the request left."""
    assignment = assignment_of(session, UNIT)
    at = local("2015-11-21 08:05")
    row = Delivery(campaign_id=campaign.id or 0, assignment_id=assignment.id,
                   step_key="before-3", kind="before", channel="zalo", recipient=PHONE,
                   state="unknown", not_before=at, created_at=at, claimed_at=at, attempts=1,
                   last_error="Zalo timeout: the request may have arrived")  # fmt: skip
    session.add(row)
    session.commit()
    return row.id or 0


def stored(session: Session, delivery_id: int) -> tuple[Delivery, int, int]:
    """The row, its attempts and the audit events of decisions, as the database has them."""
    session.expire_all()
    row = session.get_one(Delivery, delivery_id)
    attempts = session.exec(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == row.id))
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "delivery.settled"))
    return row, len(attempts.all()), len(events.all())


def test_the_unit_page_offers_both_decisions_for_an_unknown_message(
    client: TestClient,
    unknown: int,
) -> None:
    page = client.get(unit_url(UNIT)).text
    assert "Chưa rõ kết quả — cần kiểm tra" in page and "Không rõ đã đến hay chưa" in page
    assert "Đã nhận (đánh dấu đã gửi)" in page and "Gửi lại" in page
    assert f'data-delivery="{unknown}"' in page


@pytest.mark.parametrize(
    ("first", "then", "said", "state", "refused"),
    [
        ("sent", "resend", f"{CONFIRMED}; sẽ không gửi lại.", "sent", "Đã gửi"),
        ("resend", "sent", f"{AGAIN} trong lượt gửi tin tiếp theo.", "pending", "Chờ gửi"),
    ],
    ids=["confirmed", "sent-again"],
)
def test_a_decision_is_taken_once(
    client: TestClient,
    session: Session,
    unknown: int,
    first: str,
    then: str,
    said: str,
    state: str,
    refused: str,
) -> None:
    page = act(client, UNIT, "settle", delivery_id=str(unknown), decision=first)
    again = act(client, UNIT, "settle", delivery_id=str(unknown), decision=then)

    assert said in page.text and "Đã nhận (đánh dấu đã gửi)" not in page.text
    assert "Xử lý tin nhắn chưa rõ kết quả" in page.text  # the unit's history
    assert f"đã được xử lý trước đó (hiện: {refused}). Không thay đổi gì." in again.text
    row, attempts, decisions = stored(session, unknown)
    assert (row.state, attempts, decisions) == (state, 1, 1)
    if first == "sent":  # sent now, and never again
        assert row.sent_at == NOW
    else:  # due now for the dispatcher
        assert (row.sent_at, row.not_before) == (None, NOW)


@pytest.mark.parametrize("token", [None, "not-the-token"], ids=["missing", "wrong"])
def test_a_decision_without_the_session_csrf_token_is_refused(
    client: TestClient,
    session: Session,
    unknown: int,
    token: str | None,
) -> None:
    for url in (f"{unit_url(UNIT)}/settle", f"{LIST}/settle"):
        form = {"delivery_id": str(unknown), "decision": "sent"}
        response = client.post(url, data={**form, **({"csrf_token": token} if token else {})})
        assert response.status_code == 403
    row, attempts, decisions = stored(session, unknown)
    assert (row.state, attempts, decisions) == ("unknown", 0, 0)


@pytest.mark.parametrize(
    ("unit", "delivery_id", "decision"),
    [
        ("Q1-CD001", None, "sent"),  # another unit's page
        (UNIT, "abc", "sent"),
        (UNIT, "99999999999", "sent"),  # beyond any id
        (UNIT, None, "forget"),
    ],
)
def test_a_message_that_is_not_this_units_is_not_found(
    client: TestClient,
    session: Session,
    unknown: int,
    unit: str,
    delivery_id: str | None,
    decision: str,
) -> None:
    page = act(client, unit, "settle", delivery_id=delivery_id or str(unknown), decision=decision)
    assert "Không tìm thấy tin nhắn này." in page.text
    assert stored(session, unknown)[0].state == "unknown"


def test_the_campaign_lists_unknown_messages_and_settles_them_there(
    client: TestClient,
    session: Session,
    unknown: int,
) -> None:
    listed = client.get(LIST)
    assert f'href="{unit_url(UNIT)}"' in listed.text and PHONE[:5] + "***108" in listed.text
    assert f'href="{LIST}"' in client.get(BASE).text

    data = {"csrf_token": csrf(listed), "delivery_id": str(unknown), "decision": "resend"}
    page = client.post(f"{LIST}/settle", data=data)

    assert str(page.url).endswith(LIST) and AGAIN in page.text
    assert "Không có tin nhắn nào chưa rõ kết quả." in page.text
    assert stored(session, unknown)[0].state == "pending"


def test_a_logged_out_decision_lands_on_the_page_that_held_the_form(
    anon: TestClient,
    unknown: int,
) -> None:
    response = anon.post(f"{LIST}/settle", data={"delivery_id": str(unknown)},
                         follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"next={LIST}")
