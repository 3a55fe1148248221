"""The office's reminders page: the preview at a frozen moment writes and sends nothing; "Gửi
ngay" sends the due steps through a real SMTP server on loopback, once each; login and the
CSRF token are required. On SQLite and PostgreSQL, time frozen at 08:05 on Tue 17/11/2015 (T−3
of the departments' deadline, the end of Fri 20/11; the CĐCS's T−3 is Thu 19/11)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, col, func, select

from dondoc import accounts
from dondoc.settings import get_settings
from models import Assignment, Campaign, Contact, Delivery, Requirement, Unit, UploadLink
from tests.support.office import CAMPAIGN, csrf, load_seed, local, login
from tests.support.smtp import Inbox, smtp_server
from web.app import create_app
from web.deps import get_now
from web.office import reminders
from web.office.reminders import step_label

PAGE = f"/office/c/{CAMPAIGN}/reminders"
SEND = f"{PAGE}/send"
T_MINUS_3 = local("2015-11-17 08:05")


@pytest.fixture
def mail(env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("DONDOC_SMTP_URL", f"mailto://127.0.0.1:{port}")
        get_settings.cache_clear()
        yield inbox


@pytest.fixture
def campaign(
    mail: Inbox, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Campaign:
    # Argon2 at its light settings: the same checks, a fraction of the time per login.
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    return load_seed(session, tmp_path)


@pytest.fixture
def app(campaign: Campaign) -> FastAPI:
    frozen = create_app()
    frozen.dependency_overrides[get_now] = lambda: T_MINUS_3  # the clock never moves here
    return frozen


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as office:
        assert login(office).status_code == 303
        yield office


# Two nghiệp đoàn of the examples read Zalo only; Zalo is not set up in these tests.
ZALO_ONLY = {"Q1-CD055", "Q1-CD056"}


def send_now(client: TestClient) -> Response:
    """Click "Gửi ngay" with the page's CSRF token; follow the redirect back to the page."""
    token = csrf(client.get(PAGE))
    response: Response = client.post(SEND, data={"csrf_token": token})
    return response


def planned_units(page: Response) -> set[str]:
    return set(re.findall(r'<tr data-unit="([^"]+)"', page.text))


def skipped(page: Response, reason: str) -> set[str]:
    block = re.search(rf'data-reason="{reason}".*?</details>', page.text, re.S)
    return set(re.findall(r'data-skipped="([^"]+)"', block.group(0))) if block else set()


def flash(page: Response) -> str:
    match = re.search(r'<p class="flash (\w+)" role="status">([^<]*)</p>', page.text)
    assert match, "no result line on the page"
    return f"{match.group(1)}: {match.group(2)}"


def units_of(session: Session, requirement: str) -> set[str]:
    return set(
        session.exec(
            select(Unit.code)
            .join(Assignment, col(Assignment.unit_id) == Unit.id)
            .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
            .where(Requirement.code == requirement)
        )
    )


def rows(session: Session, table: type[Delivery] | type[UploadLink]) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(table)).one()


def sent_rows(session: Session) -> int:
    session.expire_all()
    query = select(func.count()).select_from(Delivery).where(Delivery.state == "sent")
    return session.exec(query).one()


# --- The preview ---------------------------------------------------------------------------


def test_the_preview_lists_the_departments_due_their_t3_reminder_and_sends_nothing(
    client: TestClient, session: Session, mail: Inbox
) -> None:
    links = rows(session, UploadLink)
    page = client.get(PAGE)
    assert page.status_code == 200
    assert planned_units(page) == units_of(session, "ban-chuyen-de")
    assert "Nhắc trước hạn 3 ngày làm việc" in page.text
    assert "Thư điện tử" in page.text
    assert skipped(page, "not_due") == units_of(session, "cdcs") - ZALO_ONLY  # T−3: Thursday
    assert skipped(page, "no_contact") == ZALO_ONLY
    assert "Chưa đến lượt nhắc" in page.text
    assert "Chưa có tin nhắn nào trong hộp thư đi." in page.text
    assert mail.messages == []
    assert rows(session, Delivery) == 0
    assert rows(session, UploadLink) == links  # not even a first upload link


def test_the_preview_shows_recipients_masked(client: TestClient, session: Session) -> None:
    page = client.get(PAGE)
    addresses = session.exec(select(Contact.email).where(col(Contact.email).is_not(None))).all()
    assert "***@" in page.text
    assert not [a for a in addresses if a and a in page.text]


def test_a_unit_without_a_consenting_contact_is_listed_as_skipped_with_the_reason(
    client: TestClient, session: Session
) -> None:
    unit = session.exec(select(Unit).where(Unit.code == "LDLD-Q1-BTC")).one()
    for contact in session.exec(select(Contact).where(Contact.unit_id == unit.id)):
        contact.consent_email = contact.consent_zalo = False
        session.add(contact)
    session.commit()
    page = client.get(PAGE)
    assert "LDLD-Q1-BTC" not in planned_units(page)
    assert skipped(page, "no_contact") == {"LDLD-Q1-BTC"} | ZALO_ONLY
    assert "Chưa có thông tin liên hệ" in page.text


# --- Gửi ngay ------------------------------------------------------------------------------


def test_send_now_sends_the_due_reminders_once(
    client: TestClient, session: Session, mail: Inbox
) -> None:
    page = send_now(client)
    assert page.status_code == 200 and page.url.path == PAGE
    sent = len(mail.messages)
    assert sent >= len(units_of(session, "ban-chuyen-de"))  # each department, ≥ 1 contact
    assert sent == sent_rows(session)
    queued = rows(session, Delivery)  # the reminders and the office's daily digest
    assert flash(page) == f"ok: Đã xếp {queued} tin nhắn, đã gửi {sent}, bỏ qua 0."
    assert re.search(rf'data-state="sent">Đã gửi: <strong>{sent}</strong>', page.text)
    assert planned_units(page) == set()  # the step is in the outbox: nothing due any more
    assert units_of(session, "ban-chuyen-de") <= skipped(page, "not_due")
    assert "lần nhắc này đã gửi" in page.text

    again = send_now(client)
    assert flash(again).startswith("ok: Không có tin nhắn mới")
    assert len(mail.messages) == sent


def test_send_now_sends_at_most_a_batch_and_leaves_the_rest_to_the_schedule(
    client: TestClient, session: Session, mail: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "SEND_LIMIT", 2)
    page = send_now(client)
    assert len(mail.messages) == 2
    assert "phần còn lại gửi theo lịch tự động" in flash(page)
    assert rows(session, Delivery) > 2


# --- Login and CSRF ------------------------------------------------------------------------


def test_the_page_sends_a_visitor_without_a_session_to_the_login(app: FastAPI) -> None:
    with TestClient(app) as anon:
        response = anon.get(PAGE, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/office/login?next={quote(PAGE)}"


def test_send_now_without_a_session_sends_nothing_and_returns_to_the_page_after_login(
    app: FastAPI, session: Session, mail: Inbox
) -> None:
    with TestClient(app) as anon:
        token = csrf(anon.get("/office/login"))
        response = anon.post(SEND, data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/office/login?next={quote(PAGE)}"
    assert rows(session, Delivery) == 0 and mail.messages == []


@pytest.mark.parametrize("token", [None, "not-the-token"], ids=["missing", "wrong"])
def test_send_now_without_the_session_csrf_token_is_refused(
    client: TestClient, session: Session, mail: Inbox, token: str | None
) -> None:
    data = {"csrf_token": token} if token else {}
    assert client.post(SEND, data=data, follow_redirects=False).status_code == 403
    assert rows(session, Delivery) == 0 and mail.messages == []


def test_an_unknown_campaign_is_not_found(client: TestClient) -> None:
    assert client.get("/office/c/khong-co/reminders").status_code == 404


# --- Labels --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "key", "label"),
    [
        ("before", "before-3", "Nhắc trước hạn 3 ngày làm việc"),
        ("before", "before-1", "Nhắc trước hạn 1 ngày làm việc"),
        ("due_today", "due", "Hôm nay là hạn cuối"),
        ("overdue", "overdue-2", "Quá hạn lần 2"),
        ("escalation", "overdue-2", "Báo cáo Chủ tịch (quá hạn lần 2)"),
    ],
)
def test_each_step_is_named_in_vietnamese(kind: str, key: str, label: str) -> None:
    assert step_label(kind, key) == label
