"""The office pages as the office uses them: log in, read the campaign's progress, filter and
page the unit table, open a unit, act on it, export. Runs on SQLite and PostgreSQL, time frozen
at 09:00 on Wed 25/11/2015 (the CĐCS deadline was the end of Tue 24/11)."""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from sqlmodel import Session, select

from dondoc import accounts, dashboard, tracking
from dondoc.dashboard import UnitFilter
from dondoc.db import get_engine
from dondoc.links import resolve, token_for
from dondoc.remindrun import dispatch_due
from dondoc.rules.status import Status
from dondoc.settings import get_settings
from models import Campaign, IndicatorValue, SubmissionFile
from models.enums import Channel
from tests.support.office import (
    CAMPAIGN,
    NOW,
    REPORT,
    REPORT_NAME,
    Clock,
    assignment_of,
    csrf,
    load_seed,
    local,
    login,
    mixed_scenario,
    submit,
    versions_of,
)
from tests.support.status_reference import statuses_by_rules
from web.app import create_app
from web.deps import get_now

BASE = f"/office/c/{CAMPAIGN}"


def unit_url(code: str) -> str:
    return f"{BASE}/u/{code}"


@pytest.fixture
def campaign(
    env: str, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Campaign:
    # Argon2 at its light settings: the same checks, a fraction of the time per login.
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    seeded = load_seed(session, tmp_path)
    mixed_scenario(session)
    return seeded


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def anon(campaign: Campaign, clock: Clock) -> Iterator[TestClient]:
    app = create_app()
    app.dependency_overrides[get_now] = lambda: clock.now
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client(anon: TestClient) -> TestClient:
    assert login(anon).status_code == 303
    return anon


def act(client: TestClient, unit: str, action: str, **data: str) -> Response:
    """Post one of the unit page's forms (with the page's CSRF token); follow the redirect."""
    token = csrf(client.get(unit_url(unit)))
    response: Response = client.post(
        f"{unit_url(unit)}/{action}", data={"csrf_token": token, **data}
    )
    return response


def units_in(page: Response) -> list[str]:
    return re.findall(r'data-unit="([^"]+)"', page.text)


def count(page: Response, requirement: str, status: str) -> int:
    match = re.search(rf'data-count="{requirement}-{status}">(\d+)<', page.text)
    return int(match.group(1)) if match else 0


def current_status(page: Response) -> str:
    match = re.search(r'class="current-status"><span class="status-(\w+)"', page.text)
    assert match, "no status on the unit page"
    return match.group(1)


def mails() -> list[EmailMessage]:
    sink = Path(os.environ["DONDOC_VAR_DIR"]) / "mail"
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(sink.glob("*.eml"))
    ]


# --- Login, sessions, CSRF ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/office", BASE, unit_url("Q1-CD001"), "/office/files/1", f"{BASE}/export.xlsx"],
)
def test_office_pages_send_a_visitor_without_a_session_to_the_login(
    anon: TestClient, url: str
) -> None:
    response = anon.get(url, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/office/login?next={quote(url)}"


def test_a_form_posted_after_the_session_expired_returns_to_its_page_after_login(
    anon: TestClient,
) -> None:
    token = csrf(anon.get("/office/login"))
    response = anon.post(
        f"{unit_url('Q1-CD008')}/exempt",
        data={"csrf_token": token, "requirement": "cdcs", "reason": "x"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/office/login?next={quote(unit_url('Q1-CD008'))}"


def test_a_wrong_password_is_refused(anon: TestClient) -> None:
    response = login(anon, password="khong-phai-mat-khau")
    assert response.status_code == 400
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.text
    assert anon.get("/office", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("asked", "landed"),
    [
        (BASE, BASE),
        ("https://evil.example/office", "/office"),
        ("//evil.example/office", "/office"),
        ("/\\evil.example", "/office"),
        ("/u/abc", "/office"),
    ],
)
def test_logging_in_leads_to_the_office_page_asked_for_and_nowhere_else(
    anon: TestClient, asked: str, landed: str
) -> None:
    response = login(anon, next_url=asked)
    assert response.status_code == 303
    assert response.headers["location"] == landed
    page = anon.get(landed)
    assert page.status_code == 200 and "Văn phòng Q1" in page.text


def test_logging_out_ends_the_session(client: TestClient) -> None:
    token = csrf(client.get("/office"))
    page = client.post("/office/logout", data={"csrf_token": token})
    assert "Đã đăng xuất." in page.text
    assert client.get("/office", follow_redirects=False).status_code == 303


FORMS = {
    "login": ("/office/login", {"username": "vanphong", "password": "mat-khau-du-dai"}),
    "logout": ("/office/logout", {}),
    "exempt": (f"{unit_url('Q1-CD008')}/exempt", {"requirement": "cdcs", "reason": "Giải thể"}),
    "extend": (
        f"{unit_url('Q1-CD008')}/extend",
        {"requirement": "cdcs", "until": "27/11/2015", "reason": "Ốm"},
    ),
    "link": (f"{unit_url('Q1-CD008')}/link", {}),
    "record": (f"{unit_url('Q1-CD008')}/record", {"requirement": "cdcs", "channel": "office"}),
}


@pytest.mark.parametrize("token", [None, "not-the-token"], ids=["missing", "wrong"])
@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_a_post_without_the_session_csrf_token_is_refused(
    client: TestClient, session: Session, form: tuple[str, dict[str, str]], token: str | None
) -> None:
    url, data = form
    response = client.post(url, data={**data, **({"csrf_token": token} if token else {})})
    assert response.status_code == 403
    assert "Không thực hiện được yêu cầu" in response.text
    assignment = assignment_of(session, "Q1-CD008")
    assert (assignment.exempt, assignment.extended_due_at) == (False, None)
    assert versions_of(session, "Q1-CD008") == []


# --- Campaign page -------------------------------------------------------------------------


def test_the_campaign_page_counts_progress_per_requirement(client: TestClient) -> None:
    page = client.get(BASE)
    assert "2/7</strong> đơn vị đã nộp" in page.text
    assert "3/55</strong> đơn vị đã nộp" in page.text
    departments = {s: count(page, "ban-chuyen-de", s) for s in ("on_time", "late", "overdue")}
    assert departments == {"on_time": 1, "late": 1, "overdue": 5}
    cdcs = {s.value: count(page, "cdcs", s.value) for s in Status}
    assert cdcs == {
        "pending": 1,
        "on_time": 2,
        "late": 1,
        "overdue": 50,
        "returned": 1,
        "exempt": 1,
    }
    assert "Tình hình tính đến 09:00 thứ Tư, ngày 25/11/2015" in page.text


def test_the_campaign_page_shows_a_change_on_the_next_view(
    client: TestClient, clock: Clock
) -> None:
    before = client.get(BASE)
    assert (count(before, "cdcs", "on_time"), count(before, "cdcs", "overdue")) == (2, 50)
    form = {"requirement": "cdcs", "idempotency_key": "k-cd009", "channel": "email",
            "received_at": "2015-11-24T10:00"}  # fmt: skip
    act(client, "Q1-CD009", "record", **form)
    after = client.get(f"{BASE}?status=on_time")
    assert (count(after, "cdcs", "on_time"), count(after, "cdcs", "overdue")) == (3, 49)
    assert "Q1-CD009" in units_in(after)
    clock.now = local("2015-11-28 00:00")  # CD003's extension has run out
    assert count(client.get(BASE), "cdcs", "pending") == 0


def test_the_campaign_list_shows_the_overall_progress(client: TestClient) -> None:
    page = client.get("/office")
    assert "95/KH-LĐLĐ" in page.text
    assert "5/62</strong> đơn vị đã nộp" in page.text


FILTERS = {
    "late": ("status=late", ["LDLD-Q1-BTG", "Q1-CD002"]),
    "on time, CĐCS only": ("status=on_time&req=cdcs", ["Q1-CD001", "Q1-CD006"]),
    "returned": ("status=returned", ["Q1-CD005"]),
    "pending (extended)": ("status=pending", ["Q1-CD003"]),
    "exempt": ("status=exempt", ["Q1-CD047"]),
    "sector": ("sector=fdi", [f"Q1-CD0{n}" for n in range(49, 55)]),
    "ward": (
        "ward=" + quote("Phường Cầu Kho"),
        ["Q1-CD003", "Q1-CD019", "Q1-CD036", "Q1-CD046"],
    ),
    "ward and status": ("ward=" + quote("Phường Cầu Kho") + "&status=pending", ["Q1-CD003"]),
    "name without diacritics": ("q=ben+nghe", ["Q1-CD001"]),
    "name with diacritics": ("q=" + quote("Mầm non Vành Khuyên"), ["Q1-CD019"]),
    "code": ("q=cd054", ["Q1-CD054"]),
    "name and status": ("q=tuyen+giao&status=late", ["LDLD-Q1-BTG"]),
    "no match": ("q=khong+co+don+vi+nay", []),
    "unknown status ignored": ("status=nonsense&req=ban-chuyen-de", None),
}


@pytest.mark.parametrize("case", FILTERS.values(), ids=FILTERS.keys())
def test_the_unit_table_filters_by_status_group_sector_ward_and_name(
    client: TestClient, case: tuple[str, list[str] | None]
) -> None:
    query, expected = case
    page = client.get(f"{BASE}?{query}")
    assert page.status_code == 200
    if expected is None:
        assert len(units_in(page)) == 7
        return
    assert sorted(units_in(page)) == expected
    assert f"{len(expected)} kết quả" in page.text


def test_the_unit_table_is_paginated(client: TestClient) -> None:
    first, second = client.get(BASE), client.get(f"{BASE}?page=2")
    assert "63 kết quả · trang 1/2" in first.text
    assert len(units_in(first)) == 50 and len(units_in(second)) == 13
    assert not set(units_in(first)) & set(units_in(second))
    assert units_in(client.get(f"{BASE}?page=99")) == units_in(second)
    next_link = 'href="/office/c/q1-so-ket-2015?req=cdcs&amp;page=2"'
    assert next_link in client.get(f"{BASE}?req=cdcs").text
    assert len(units_in(client.get(f"{BASE}?req=cdcs&page=2"))) == 6


def test_an_unknown_campaign_or_unit_is_not_found(client: TestClient) -> None:
    assert client.get("/office/c/nope").status_code == 404
    assert client.get(unit_url("Q1-CD999")).status_code == 404
    assert client.get(unit_url("LDLD-HCM")).status_code == 404  # nothing to report here


# --- Unit page ------------------------------------------------------------------------------


def test_the_unit_page_shows_versions_files_figures_and_history(client: TestClient) -> None:
    page = client.get(unit_url("Q1-CD001"))
    assert "CĐCS Ủy ban nhân dân phường Bến Nghé" in page.text
    assert "Phiên bản 1</strong> · nhận lúc 23:59 thứ Ba, ngày 24/11/2015" in page.text
    assert current_status(page) == "on_time"
    assert REPORT_NAME in page.text
    figures = dict(re.findall(r'data-key="(\w+)"><td>[^<]*</td><td>([^<]*)</td>', page.text))
    assert figures == {
        "so_cnvcld": "1.300 người",
        "so_doan_vien": "1.250 người",
        "xep_loai_2014": "VM",
        "to_chuc_hoi_nghi": "Có",
        "thu_kpcd_pct": "97,5 %",
    }
    assert 'data-action="submission.received"' in page.text
    assert "chutich.q1-cd001@example.invalid" in page.text


def test_the_unit_page_shows_every_version_and_the_reason_for_returning(
    client: TestClient,
) -> None:
    page = client.get(unit_url("Q1-CD006"))
    assert page.text.index("Phiên bản 2</strong>") < page.text.index("Phiên bản 1</strong>")
    assert "Nội dung cần bổ sung: Thiếu số liệu" in page.text
    assert current_status(page) == "on_time"  # the first report decides


def test_a_file_downloads_with_its_bytes_and_vietnamese_name(
    client: TestClient, session: Session
) -> None:
    stored = session.exec(select(SubmissionFile)).one()
    response = client.get(f"/office/files/{stored.id}")
    assert response.status_code == 200
    assert response.content == REPORT
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; ")
    assert f"filename*=UTF-8''{quote(REPORT_NAME)}" in disposition
    assert response.headers["content-type"] == "application/pdf"
    assert client.get("/office/files/999999").status_code == 404


# --- Actions --------------------------------------------------------------------------------


def test_the_office_records_a_paper_report_with_its_file_and_figures(
    client: TestClient, session: Session
) -> None:
    page = client.get(unit_url("Q1-CD007"))
    form = {
        "csrf_token": csrf(page),
        "requirement": "cdcs",
        "idempotency_key": "k-cd007-1",
        "channel": "office",
        "received_at": "2015-11-24T16:30",
        "v_so_cnvcld": "1.300",
        "v_so_doan_vien": "1.250",
        "v_xep_loai_2014": "vm",
        "note": "Bản giấy có dấu đỏ",
    }
    upload = [("files", ("Báo cáo CĐCS 007.pdf", REPORT, "application/pdf"))]
    done = client.post(f"{unit_url('Q1-CD007')}/record", data=form, files=upload)
    assert "Đã ghi nhận báo cáo phiên bản 1 — Văn phòng nhận (giấy), 1 tệp, 3 số liệu." in done.text
    assert current_status(done) == "on_time"
    again = client.post(f"{unit_url('Q1-CD007')}/record", data=form, files=upload)
    assert "đã được ghi nhận" in again.text
    [version] = versions_of(session, "Q1-CD007")
    assert (version.channel, version.recorded_by, version.note) == (
        Channel.OFFICE.value,
        "vanphong",
        "Bản giấy có dấu đỏ",
    )
    assert version.received_at == local("2015-11-24 16:30")
    stored = session.exec(
        select(SubmissionFile).where(SubmissionFile.submission_id == version.id)
    ).one()
    assert (stored.name, stored.size) == ("Báo cáo CĐCS 007.pdf", len(REPORT))
    assert client.get(f"/office/files/{stored.id}").content == REPORT
    values = session.exec(
        select(IndicatorValue).where(IndicatorValue.submission_id == version.id)
    ).all()
    assert {v.key: v.num_value if v.text_value is None else v.text_value for v in values} == {
        "so_cnvcld": 1300,
        "so_doan_vien": 1250,
        "xep_loai_2014": "VM",
    }


def test_a_report_by_zalo_without_a_file_is_recorded_late(
    client: TestClient, session: Session
) -> None:
    page = act(
        client,
        "Q1-CD009",
        "record",
        requirement="cdcs",
        channel="zalo",
        received_at="25/11/2015 08:15",
    )
    assert current_status(page) == "late"
    assert [v.channel for v in versions_of(session, "Q1-CD009")] == ["zalo"]


RECORD_ERRORS = {
    "figure over its bound": (
        {"v_so_doan_vien": "10", "v_so_doan_vien_nu": "12"},
        "Trong đó đoàn viên nữ không được lớn hơn tổng số đoàn viên",
    ),
    "not a number": ({"v_so_doan_vien": "mười"}, "Tổng số đoàn viên phải là số nguyên"),
    "in the future": ({"received_at": "2015-11-25T10:00"}, "không được sau thời điểm hiện tại"),
    "no time": ({"received_at": ""}, "Thời điểm nhận không hợp lệ"),
    "unknown channel": ({"channel": "fax"}, "Chọn hình thức nhận báo cáo"),
}


@pytest.mark.parametrize("case", RECORD_ERRORS.values(), ids=RECORD_ERRORS.keys())
def test_a_refused_report_comes_back_filled_in_with_the_problem(
    client: TestClient, session: Session, case: tuple[dict[str, str], str]
) -> None:
    fields, message = case
    data = {"channel": "email", "received_at": "2015-11-24T10:00", "note": "Ghi chú giữ lại"}
    page = act(client, "Q1-CD010", "record", requirement="cdcs", **{**data, **fields})
    assert page.status_code == 400
    assert message in page.text
    assert "Ghi chú giữ lại</textarea>" in page.text
    assert versions_of(session, "Q1-CD010") == []


def test_accepting_a_version(client: TestClient, session: Session) -> None:
    [version] = versions_of(session, "Q1-CD001")
    page = act(client, "Q1-CD001", "review", submission_id=str(version.id), decision="accept")
    assert "Đã chấp nhận báo cáo phiên bản 1." in page.text
    assert 'class="review-accepted">Đã chấp nhận' in page.text
    [version] = versions_of(session, "Q1-CD001")
    assert (version.review_state, version.reviewed_by) == ("accepted", "vanphong")
    again = act(client, "Q1-CD001", "review", submission_id=str(version.id), decision="accept")
    assert "đã được xem xét trước đó" in again.text


def test_returning_a_version_emails_the_consenting_contacts_their_link(
    client: TestClient, session: Session, clock: Clock
) -> None:
    [version] = versions_of(session, "Q1-CD002")
    refused = act(client, "Q1-CD002", "review", submission_id=str(version.id), decision="return")
    assert "Cần ghi rõ nội dung đề nghị bổ sung." in refused.text
    page = act(
        client,
        "Q1-CD002",
        "review",
        submission_id=str(version.id),
        decision="return",
        reason="Bổ sung bảng số liệu phụ lục",
    )
    assert (
        "Đã trả lại phiên bản 1 để bổ sung. Đã gửi thông báo tới 2 địa chỉ (thư điện tử hoặc Zalo)."
        in page.text
    )
    assert current_status(page) == "returned"
    assert "lý do: Bổ sung bảng số liệu phụ lục" in page.text  # the history keeps the reason
    # The request only filled the outbox: the notices wait on the unit page for the dispatcher.
    assert mails() == []
    assert page.text.count(f"(returned-{version.id})") == 2
    assert page.text.count('data-state="pending"') == 2
    sent = dispatch_due(get_engine(), now=clock.now, settings=get_settings(), worker="test")
    assert sent == Counter({"sent": 2})
    messages = mails()
    assert sorted(str(m["To"]) for m in messages) == [
        "chutich.q1-cd002@example.invalid",
        "thuky.q1-cd002@example.invalid",
    ]
    body = messages[0].get_content()
    assert "Bổ sung bảng số liệu phụ lục" in body
    assert "- Hạn nộp: 23:59 thứ Ba, ngày 24/11/2015 (thời hạn đã qua)" in body
    token = re.search(r"/u/([\w-]+)", body)
    assert token is not None
    link = resolve(session, token.group(1))
    assert link is not None and link.unit_id == assignment_of(session, "Q1-CD002").unit_id
    page = client.get(unit_url("Q1-CD002"))
    assert page.text.count('data-state="sent"') == 2


def test_an_extension_shows_the_new_deadline_and_the_unit_is_pending_again(
    client: TestClient,
) -> None:
    before = client.get(unit_url("Q1-CD004"))
    assert current_status(before) == "overdue"
    wrong = act(client, "Q1-CD004", "extend", requirement="cdcs", until="sau Tết", reason="Ốm")
    assert "Không đọc được hạn mới." in wrong.text
    early = act(client, "Q1-CD004", "extend", requirement="cdcs", until="20/11/2015", reason="x")
    assert "Hạn mới phải sau hạn hiện tại (23:59 thứ Ba, ngày 24/11/2015)." in early.text
    page = act(
        client,
        "Q1-CD004",
        "extend",
        requirement="cdcs",
        until="đến hết ngày 27/11/2015",
        reason="Chủ tịch đi công tác",
    )
    assert "Đã gia hạn đến 23:59 thứ Sáu, ngày 27/11/2015." in page.text
    assert current_status(page) == "pending"
    assert "23:59 thứ Sáu, ngày 27/11/2015 (đã gia hạn)" in page.text
    assert "Chủ tịch đi công tác" in page.text
    listed = client.get(f"{BASE}?status=pending")
    assert sorted(units_in(listed)) == ["Q1-CD003", "Q1-CD004"]


def test_exempting_a_unit(client: TestClient, session: Session) -> None:
    missing = act(client, "Q1-CD008", "exempt", requirement="cdcs", reason=" ")
    assert "Cần ghi lý do miễn nộp." in missing.text
    page = act(client, "Q1-CD008", "exempt", requirement="cdcs", reason="Đang giải thể")
    assert "Đã miễn nộp báo cáo cho đơn vị." in page.text
    assert current_status(page) == "exempt"
    assert assignment_of(session, "Q1-CD008").exempted_by == "vanphong"
    assert count(client.get(BASE), "cdcs", "exempt") == 2


def test_reissuing_a_link_shows_the_new_one_once_and_revokes_the_old(
    client: TestClient, session: Session
) -> None:
    unit_id = assignment_of(session, "Q1-CD011").unit_id
    old = token_for(
        session, campaign_id=1, unit_id=unit_id, secret=get_settings().secret(), by="test", now=NOW
    )
    session.commit()
    page = act(client, "Q1-CD011", "link")
    shown = re.search(r'class="new-link"[^>]*>http://127\.0\.0\.1:8000/u/([\w-]+)<', page.text)
    assert shown is not None
    session.expire_all()
    assert resolve(session, old) is None
    new = resolve(session, shown.group(1))
    assert new is not None and new.unit_id == unit_id
    assert 'class="new-link"' not in client.get(unit_url("Q1-CD011")).text
    assert 'data-action="link.reissued"' in page.text


# --- Exports --------------------------------------------------------------------------------


def test_the_xlsx_export_has_a_status_sheet_and_a_figures_sheet(client: TestClient) -> None:
    response = client.get(f"{BASE}/export.xlsx")
    assert response.status_code == 200
    assert "q1-so-ket-2015-bao-cao-20151125-0900.xlsx" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Trạng thái", "Số liệu"]
    status = [list(r) for r in book["Trạng thái"].iter_rows(values_only=True)]
    assert status[0][:3] == ["STT", "Mã đơn vị", "Tên đơn vị"]
    assert len(status) == 1 + 63
    by_code = {r[1]: r for r in status[1:]}
    assert by_code["Q1-CD002"][6] == "Nộp trễ hạn"
    deadline = by_code["Q1-CD003"][7]
    assert isinstance(deadline, datetime) and f"{deadline:%d/%m/%Y %H:%M}" == "27/11/2015 23:59"
    assert by_code["Q1-CD003"][8] == "Có"
    figures = [list(r) for r in book["Số liệu"].iter_rows(values_only=True)]
    header = figures[0]
    assert len(figures) == 1 + 56  # the CĐCS; the departments report no figures
    cd001 = dict(zip(header, next(r for r in figures if r[1] == "Q1-CD001"), strict=True))
    assert cd001["Tổng số đoàn viên (người)"] == 1250
    assert cd001["Xếp loại CĐCS năm 2014"] == "VM"
    conference = "Tổ chức Hội nghị cán bộ, công chức, viên chức / Hội nghị người lao động năm 2015"
    dues = "Thu kinh phí công đoàn, đoàn phí công đoàn năm 2015 đạt so với dự toán (%)"
    assert (cd001[conference], cd001[dues]) == ("Có", 97.5)
    assert "Tỷ lệ đoàn viên / CNVC-LĐ (%)" not in header  # derived, computed at consolidation


def test_the_exports_follow_the_page_filters(client: TestClient) -> None:
    book = load_workbook(io.BytesIO(client.get(f"{BASE}/export.xlsx?status=late").content))
    codes = [r[1] for r in book["Trạng thái"].iter_rows(min_row=2, values_only=True)]
    assert codes == ["LDLD-Q1-BTG", "Q1-CD002"]


def test_the_csv_exports_open_in_excel_with_vietnamese_text(client: TestClient) -> None:
    status = client.get(f"{BASE}/status.csv")
    assert status.content.startswith(b"\xef\xbb\xbf")
    assert status.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(status.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["STT", "Mã đơn vị", "Tên đơn vị", "Nhóm báo cáo"]
    by_code = {r[1]: r for r in rows[1:]}
    assert by_code["Q1-CD002"][6] == "Nộp trễ hạn"
    assert by_code["Q1-CD002"][10:12] == ["25/11/2015 00:00", "Zalo"]
    assert by_code["Q1-CD004"][7] == "24/11/2015 23:59"
    figures = client.get(f"{BASE}/figures.csv")
    table = list(csv.DictReader(io.StringIO(figures.content.decode("utf-8-sig"))))
    cd001 = next(r for r in table if r["Mã đơn vị"] == "Q1-CD001")
    assert (cd001["Tổng số đoàn viên (người)"], cd001["Phiên bản"]) == ("1250", "1")
    assert cd001["Xếp loại CĐCS năm 2014"] == "VM"


# --- The SQL status agrees with the rules ---------------------------------------------------

INSTANTS = [
    "2015-11-19 12:00",
    "2015-11-24 23:59",
    "2015-11-25 09:00",
    "2015-11-26 12:00",
    "2015-11-28 08:00",
]


def test_the_sql_statuses_agree_with_the_rules_on_a_mixed_campaign(
    campaign: Campaign, session: Session
) -> None:
    edge_cases(session)
    for at in INSTANTS:
        now = local(at)
        expected = statuses_by_rules(session, campaign, now)
        lean = tracking.campaign_statuses(session, campaign, now=now)
        assert lean == {k: r.status for k, r in expected.items()}, at
        full = tracking.campaign_status(session, campaign, now=now)
        assert {r.assignment_id: r.status for r in full} == lean, at
        rows = dashboard.unit_rows(session, campaign, now=now)
        assert {r.assignment_id: r.status for r in rows} == {
            k: r.status for k, r in expected.items()
        }, at
        assert {r.assignment_id: (r.versions, r.due_at) for r in rows} == {
            k: (r.versions, r.due_at) for k, r in expected.items()
        }, at
        last = {k: r.last_version for k, r in expected.items()}
        assert {r.assignment_id: r.last_version for r in rows} == last, at
        for p in dashboard.progress(session, campaign, now=now):
            wanted = Counter(r.status for r in expected.values() if r.requirement_code == p.code)
            assert p.counts == dict(wanted), at
        for status in Status:
            page = dashboard.unit_page(
                session, campaign, now=now, filters=UnitFilter(status=status), per_page=1000
            )
            assert {r.assignment_id for r in page.rows} == {
                k for k, r in expected.items() if r.status is status
            }, (at, status)
        # Without a status filter a page computes the statuses of its own rows only.
        pages = [
            dashboard.unit_page(session, campaign, now=now, filters=UnitFilter(), page=n)
            for n in (1, 2)
        ]
        paged = {r.assignment_id: r.status for p in pages for r in p.rows}
        assert paged == {k: r.status for k, r in expected.items()}, at


def edge_cases(session: Session) -> None:
    """Where a SQL mirror of the rules could slip."""
    submit(session, "Q1-CD010", "2015-11-25 00:00")  # exactly at the deadline: late
    a11 = assignment_of(session, "Q1-CD011")
    a11.extended_due_at = local("2015-11-20 00:00")  # earlier than the plan: never shortens
    session.add(a11)
    submit(session, "Q1-CD011", "2015-11-22 10:00")
    submit(session, "Q1-CD012", "2015-11-23 10:00")  # submitted, then exempted: exempt
    a12 = assignment_of(session, "Q1-CD012")
    a12.exempt = True
    session.add(a12)
    first = submit(session, "Q1-CD013", "2015-11-23 10:00")  # returned, corrected only on 26/11
    first.review_state = "returned"
    session.add(first)
    submit(session, "Q1-CD013", "2015-11-26 10:00")
    submit(session, "Q1-CD014", "2015-11-24 10:00")  # v2 backdated before v1
    submit(session, "Q1-CD014", "2015-11-18 10:00")
    session.commit()
    statuses = {
        r.unit_code: r.status
        for r in dashboard.unit_rows(session, session.exec(select(Campaign)).one(), now=NOW)
        if r.unit_code in ("Q1-CD010", "Q1-CD011", "Q1-CD012", "Q1-CD013", "Q1-CD014")
    }
    assert statuses == {
        "Q1-CD010": Status.LATE,
        "Q1-CD011": Status.ON_TIME,
        "Q1-CD012": Status.EXEMPT,
        "Q1-CD013": Status.RETURNED,
        "Q1-CD014": Status.ON_TIME,
    }
