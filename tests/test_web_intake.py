"""The units' pages behind their secret links, through HTTP against the real app, on SQLite and
PostgreSQL: the page, uploads with figures, receipts and their email, retries, resubmissions,
the XLSX form, the hard close, and every bad input (refused with a Vietnamese message and
nothing stored)."""

from __future__ import annotations

import asyncio
import email.policy
import hashlib
import io
import os
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.parser import BytesParser
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.links import issue_link
from dondoc.office import exempt, review
from dondoc.plans.loader import load_plan
from dondoc.receipts import parse_receipt_number, receipt_number
from dondoc.remindrun import dispatch_due
from dondoc.rules.calendar import WorkingCalendar, WorkWeek
from dondoc.rules.deadlines import VN_TZ
from dondoc.settings import get_settings
from dondoc.unitpage import time_left
from dondoc.uploads import UploadError, check_file, limit_stream, safe_name
from dondoc.xlsxform import build_form, cell_text, form_fields
from models import (
    Assignment,
    Campaign,
    IndicatorValue,
    Requirement,
    Submission,
    SubmissionFile,
    Unit,
)
from models.enums import Channel
from tests.support import uploads
from tests.support.files import SEED, copy_examples
from tests.support.uploads import form_inputs
from web.app import create_app
from web.deps import get_now
from web.intake import RateLimits, rate_limits
from web.security import RateLimiter

CAMPAIGN = "q1-so-ket-2015"
UNIT = "Q1-CD001"  # CĐCS UBND phường Bến Nghé: administrative, two contacts with email consent
UNIT_NAME = "CĐCS Ủy ban nhân dân phường Bến Nghé"
CONTACTS = {"chutich.q1-cd001@example.invalid", "thuky.q1-cd001@example.invalid"}
THU_19_NOV = datetime(2015, 11, 19, 9, 0, tzinfo=VN_TZ)  # T-3 working days before Tue 24/11
HARD_CLOSE = datetime(2015, 11, 27, 17, 0, tzinfo=VN_TZ)
FIGURES = {"fig_so_cnvcld": "1.300", "fig_so_doan_vien": "1.250", "fig_so_doan_vien_nu": "700"}
FileSpec = tuple[str, tuple[str, bytes, str]]


@dataclass
class Site:
    client: TestClient
    engine: Engine
    token: str
    var: Path
    now: datetime

    @property
    def page_url(self) -> str:
        return f"/u/{self.token}"

    def page(self) -> str:
        response: Response = self.client.get(self.page_url)
        assert response.status_code == 200, response.text
        return response.text

    def post(
        self,
        files: list[FileSpec],
        data: dict[str, str] | None = None,
        *,
        code: str = "cdcs",
        key: str | None = None,
    ) -> Response:
        action = f"{self.page_url}/submit/{code}"
        hidden = form_inputs(self.page(), action)
        if key is not None:
            hidden["idempotency_key"] = key
        response: Response = self.client.post(
            action, data={**hidden, **(data or {})}, files=files, follow_redirects=False
        )
        return response

    def mail(self) -> list[EmailMessage]:
        """What reached the units: the outbox dispatched first (receipts are rows in it)."""
        dispatch_due(self.engine, now=self.now.astimezone(UTC), settings=get_settings(), worker="t")
        parser = BytesParser(_class=EmailMessage, policy=email.policy.default)
        return [
            parser.parsebytes(p.read_bytes()) for p in sorted((self.var / "mail").glob("*.eml"))
        ]

    def stored_files(self) -> list[Path]:
        return sorted(p for p in (self.var / "files").rglob("*") if p.is_file())

    def submissions(self) -> list[Submission]:
        with Session(self.engine) as s:
            return list(s.exec(select(Submission).order_by(col(Submission.id))))


def pdf(name: str = "bao-cao-so-ket.pdf", content: bytes = uploads.PDF) -> FileSpec:
    return ("files", (name, content, "application/pdf"))


def seed(engine: Engine, tmp_path: Path) -> str:
    examples = copy_examples(tmp_path)
    at = datetime(2015, 11, 5, 9, 0, tzinfo=VN_TZ)
    with Session(engine) as session:
        load_plan(session, examples / SEED, now=at, actor="test", tz=VN_TZ)
        token = issue_link(
            session, **ids(session, UNIT), secret=get_settings().secret(), by="test", now=at
        )
        session.commit()
    return token


def ids(session: Session, unit_code: str) -> dict[str, int]:
    campaign = session.exec(select(Campaign).where(Campaign.code == CAMPAIGN)).one()
    unit = session.exec(select(Unit).where(Unit.code == unit_code)).one()
    return {"campaign_id": campaign.id or 0, "unit_id": unit.id or 0}


@pytest.fixture
def site(env: str, engine: Engine, tmp_path: Path) -> Iterator[Site]:
    token = seed(engine, tmp_path)
    app = create_app()
    site = Site(TestClient(app), engine, token, Path(os.environ["DONDOC_VAR_DIR"]), THU_19_NOV)
    app.dependency_overrides[get_now] = lambda: site.now.astimezone(UTC)
    yield site
    site.client.close()


def assert_nothing_stored(site: Site) -> None:
    assert site.submissions() == []
    assert site.stored_files() == []
    assert site.mail() == []


# --- the page ---------------------------------------------------------------------------------


def test_the_page_shows_what_the_unit_must_submit_and_by_when(site: Site) -> None:
    html = site.page()
    assert UNIT_NAME in html and UNIT in html
    assert "Báo cáo sơ kết nửa nhiệm kỳ thực hiện Nghị quyết Đại hội Công đoàn quận 1" in html
    assert "23:59 thứ Ba, ngày 24/11/2015" in html
    assert "Còn 3 ngày làm việc" in html  # Fri 20, Mon 23, Tue 24
    assert "II.4. Công tác nữ công" in html  # the outline
    assert "Tổng số đoàn viên" in html and f'{site.page_url}/form/cdcs.xlsx"' in html
    # Figures for enterprises only are not asked of a ward's union; derived ones never are.
    assert "thỏa ước lao động tập thể" not in html and "Tỷ lệ đoàn viên" not in html
    assert "Đơn vị chưa nộp báo cáo này." in html


def test_the_page_lists_the_units_own_submission_history(site: Site) -> None:
    assert site.post([pdf()], FIGURES).status_code == 303
    html = site.page()
    assert "Các lần đơn vị đã nộp" in html and "bao-cao-so-ket.pdf" in html
    assert "09:00 thứ Năm, ngày 19/11/2015" in html and "Qua đường dẫn" in html
    assert "Đã tiếp nhận" in html and "Nộp lại (phiên bản mới)" in html


def test_past_the_deadline_it_says_overdue_and_still_takes_a_late_report(site: Site) -> None:
    site.now = datetime(2015, 11, 25, 8, 0, tzinfo=VN_TZ)
    assert "Quá hạn" in site.page()
    response = site.post([pdf()])
    assert response.status_code == 303
    receipt = site.client.get(response.headers["location"]).text
    assert "nộp sau hạn" in receipt


def test_each_of_a_units_requirements_has_its_own_form(site: Site) -> None:
    with Session(site.engine) as s:
        requirement = s.exec(select(Requirement).where(Requirement.code == "ban-chuyen-de")).one()
        sections = requirement.id or 0
        s.add(Assignment(requirement_id=sections, unit_id=ids(s, UNIT)["unit_id"]))
        s.commit()
    html = site.page()
    assert html.count("<form ") == 2
    assert "23:59 thứ Sáu, ngày 20/11/2015" in html and "23:59 thứ Ba, ngày 24/11/2015" in html
    assert site.post([pdf()], code="ban-chuyen-de").status_code == 303
    with Session(site.engine) as s:
        (submission,) = s.exec(select(Submission)).all()
        assignment = s.get(Assignment, submission.assignment_id)
        assert assignment is not None and assignment.requirement_id == sections


def test_the_layout_fits_a_phone(site: Site) -> None:
    html = site.page()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    templates = Path(__file__).parents[1] / "web" / "templates" / "intake"
    for template in templates.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "px" not in text and "width" not in text, template.name


# --- a submission -----------------------------------------------------------------------------


def test_a_pdf_and_figures_are_stored_and_acknowledged(site: Site) -> None:
    content = uploads.PDF + "Báo cáo sơ kết".encode()
    response = site.post([pdf(content=content)], FIGURES)

    assert response.status_code == 303
    (submission,) = site.submissions()
    assert (submission.version, submission.channel) == (1, Channel.PORTAL.value)
    number = f"BC-1-{submission.id:06d}"
    receipt = site.client.get(response.headers["location"])
    assert receipt.status_code == 200 and number in receipt.text
    assert "Trong đó đoàn viên nữ" in receipt.text and "1.250" in receipt.text
    with Session(site.engine) as s:
        stored = s.exec(select(SubmissionFile)).one()
        values = {v.key: v.num_value for v in s.exec(select(IndicatorValue))}
    sha = hashlib.sha256(content).hexdigest()
    assert (stored.name, stored.size, stored.sha256) == ("bao-cao-so-ket.pdf", len(content), sha)
    assert stored.content_type == "application/pdf"
    assert (site.var / "files" / stored.storage_path).read_bytes() == content
    assert values == {"so_cnvcld": 1300, "so_doan_vien": 1250, "so_doan_vien_nu": 700}
    mails = site.mail()
    assert {m["To"] for m in mails} == CONTACTS
    body = mails[0].get_content()
    assert number in mails[0]["Subject"] and number in body
    assert "Kính gửi: Ban Chấp hành " + UNIT_NAME in body and "bao-cao-so-ket.pdf" in body
    assert "Hạn nộp: 23:59 thứ Ba, ngày 24/11/2015 (nộp đúng hạn)" in body


def test_every_accepted_type_is_taken(site: Site) -> None:
    files: list[FileSpec] = [
        ("files", ("bao-cao.docx", uploads.ooxml("docx"), "application/octet-stream")),
        ("files", ("bao-cao.odt", uploads.odt(), "application/octet-stream")),
        ("files", ("bao-cao-cu.doc", uploads.OLE2, "application/msword")),
        ("files", ("trang-1.png", uploads.PNG, "image/png")),
        ("files", ("trang-2.jpg", uploads.JPEG, "image/jpeg")),
    ]
    assert site.post(files).status_code == 303
    with Session(site.engine) as s:
        kinds = {f.name: f.content_type for f in s.exec(select(SubmissionFile))}
    assert len(kinds) == 5
    assert kinds["trang-2.jpg"] == "image/jpeg"
    assert kinds["bao-cao.odt"] == "application/vnd.oasis.opendocument.text"


def test_the_same_idempotency_key_twice_makes_one_submission(site: Site) -> None:
    key = "double-click-key-0001"
    first = site.post([pdf()], FIGURES, key=key)
    second = site.post([pdf()], FIGURES, key=key)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(site.submissions()) == 1
    assert len(site.mail()) == len(CONTACTS)  # acknowledged once


def test_simultaneous_retries_make_one_submission(site: Site) -> None:
    hidden = form_inputs(site.page(), f"{site.page_url}/submit/cdcs")
    start = threading.Barrier(4)
    locations: list[str] = []

    def post() -> None:
        with TestClient(site.client.app) as client:
            start.wait()
            response = client.post(
                f"{site.page_url}/submit/cdcs",
                data=hidden,
                files=[pdf()],
                follow_redirects=False,
            )
            locations.append(response.headers.get("location", str(response.status_code)))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (submission,) = site.submissions()
    assert locations == [f"{site.page_url}/receipt/{submission.id}"] * 4


def test_a_resubmission_is_a_new_version_and_keeps_the_first(site: Site) -> None:
    site.post([pdf("lan-1.pdf")], FIGURES)
    site.now = datetime(2015, 11, 20, 10, 0, tzinfo=VN_TZ)
    response = site.post([pdf("lan-2.pdf", uploads.PDF + b"v2")], FIGURES)
    assert response.status_code == 303
    first, second = site.submissions()
    assert (first.version, second.version) == (1, 2)
    with Session(site.engine) as s:
        names = {f.submission_id: f.name for f in s.exec(select(SubmissionFile))}
    assert names == {first.id: "lan-1.pdf", second.id: "lan-2.pdf"}
    assert len(site.stored_files()) == 2
    html = site.page()
    assert "lan-1.pdf" in html and "lan-2.pdf" in html


# --- the XLSX form ----------------------------------------------------------------------------


def test_the_xlsx_form_comes_pre_filled_and_its_figures_are_taken(site: Site) -> None:
    download = site.client.get(f"{site.page_url}/form/cdcs.xlsx")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(download.content))
    sheet = book["Số liệu"]
    cells = [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert UNIT_NAME in cells and UNIT in cells
    for row in sheet.iter_rows(min_row=1):
        key = row[4].value
        if key == "so_cnvcld":
            row[3].value = 1300  # typed as a number in Excel
        elif key == "so_doan_vien":
            row[3].value = "1.250"  # typed as text, Vietnamese style
        elif key == "xep_loai_2014":
            row[3].value = "VM"
    filled = io.BytesIO()
    book.save(filled)

    form = ("figures_file", ("so-lieu.xlsx", filled.getvalue(), "application/octet-stream"))
    response = site.post([pdf(), form])

    assert response.status_code == 303, response.text
    with Session(site.engine) as s:
        values = {v.key: v.num_value or v.text_value for v in s.exec(select(IndicatorValue))}
        names = sorted(f.name for f in s.exec(select(SubmissionFile)))
    assert values == {"so_cnvcld": 1300, "so_doan_vien": 1250, "xep_loai_2014": "VM"}
    assert names == ["bao-cao-so-ket.pdf", "so-lieu.xlsx"]  # the filled form is kept too


def test_figures_come_either_typed_or_in_the_form_not_both(site: Site) -> None:
    filled = site.client.get(f"{site.page_url}/form/cdcs.xlsx").content
    form = ("figures_file", ("so-lieu.xlsx", filled, "application/octet-stream"))
    response = site.post([pdf(), form], {"fig_so_doan_vien": "10"})
    assert response.status_code == 400
    assert "chọn một cách: nhập số liệu trên trang hoặc gửi biểu mẫu XLSX" in response.text
    assert_nothing_stored(site)


def test_an_unrelated_xlsx_is_refused(site: Site) -> None:
    form = ("figures_file", ("so-lieu.xlsx", uploads.unrelated_xlsx(), "application/octet-stream"))
    response = site.post([pdf(), form])
    assert response.status_code == 400
    assert "Tệp “so-lieu.xlsx” không phải biểu mẫu số liệu của báo cáo này" in response.text
    assert_nothing_stored(site)


def test_another_units_xlsx_form_is_refused(site: Site) -> None:
    with Session(site.engine) as s:
        other = s.exec(select(Unit).where(Unit.code == "Q1-CD002")).one()
        campaign = s.exec(select(Campaign).where(Campaign.code == CAMPAIGN)).one()
        requirement = s.exec(select(Requirement).where(Requirement.code == "cdcs")).one()
        content = build_form(
            campaign=campaign,
            requirement=requirement,
            unit=other,
            fields=form_fields(s, requirement, other),
        )
    form = ("figures_file", ("bieu-mau.xlsx", content, "application/octet-stream"))
    response = site.post([pdf(), form])
    assert response.status_code == 400
    assert "là của đơn vị khác (mã Q1-CD002)" in response.text
    assert_nothing_stored(site)


# --- bad input: refused, with a Vietnamese message, and nothing stored ------------------------

BAD_INPUT: dict[str, tuple[list[FileSpec], dict[str, str], str]] = {
    "an .exe renamed .pdf": (
        [pdf("bao-cao.pdf", uploads.EXE)],
        {},
        "Nội dung tệp “bao-cao.pdf” không phải là tệp PDF hợp lệ",
    ),
    "a ZIP renamed .docx": (
        [("files", ("bao-cao.docx", uploads.plain_zip(), "application/octet-stream"))],
        {},
        "Nội dung tệp “bao-cao.docx” không phải là tệp DOCX hợp lệ",
    ),
    "a macro workbook renamed .xlsx": (
        [("files", ("so-lieu.xlsx", uploads.ooxml("xlsm"), "application/octet-stream"))],
        {},
        "không phải là tệp XLSX hợp lệ",
    ),
    "an .exe": (
        [("files", ("setup.exe", uploads.EXE, "application/octet-stream"))],
        {},
        "Tệp “setup.exe” không thuộc loại được nhận",
    ),
    "an empty file": ([pdf("trong.pdf", b"")], {}, "Tệp “trong.pdf” không có nội dung (0 byte)."),
    "a path for a name": (
        [pdf("../../etc/passwd")],
        {},
        "Tệp “passwd” không thuộc loại được nhận",
    ),
    "a dot name": ([pdf("..")], {}, "Tên tệp “..” không hợp lệ"),
    "no report file": (
        [("files", ("", b"", "application/octet-stream"))],  # an input left empty
        FIGURES,
        "Đơn vị vui lòng đính kèm ít nhất một tệp báo cáo.",
    ),
    "more women than members": (
        [pdf()],
        {"fig_so_doan_vien": "10", "fig_so_doan_vien_nu": "12"},
        "Trong đó đoàn viên nữ không được lớn hơn tổng số đoàn viên",
    ),
    "a figure in words": (
        [pdf()],
        {"fig_so_doan_vien": "mười"},
        "Tổng số đoàn viên phải là số nguyên",
    ),
    "too many files": (
        [pdf(f"{n}.pdf", uploads.PDF + bytes([n])) for n in range(6)],
        {},
        "Mỗi lần nộp được gửi tối đa 5 tệp báo cáo.",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_refused_and_nothing_is_stored(site: Site, case: str) -> None:
    files, data, message = BAD_INPUT[case]
    response = site.post(files, data)
    assert response.status_code == 400
    assert message in response.text
    assert "Báo cáo chưa được gửi" in response.text
    assert_nothing_stored(site)


def test_typed_figures_are_kept_when_the_form_comes_back(site: Site) -> None:
    response = site.post([pdf()], {"fig_so_doan_vien": "10", "fig_so_doan_vien_nu": "12"})
    assert 'name="fig_so_doan_vien_nu" value="12"' in response.text
    assert '<div class="field-error">Trong đó đoàn viên nữ không được lớn hơn' in response.text


def test_a_windows_path_keeps_only_the_file_name(site: Site) -> None:
    assert site.post([pdf("C:\\Users\\vanthu\\..\\bao-cao.pdf")]).status_code == 303
    with Session(site.engine) as s:
        assert s.exec(select(SubmissionFile)).one().name == "bao-cao.pdf"


def test_an_oversized_file_is_refused(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DONDOC_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    big = uploads.PDF + b"0" * (1024 * 1024)
    response = site.post([pdf("lon.pdf", big)])
    assert response.status_code == 400
    assert "Tệp “lon.pdf” vượt quá dung lượng cho phép (1 MB mỗi tệp)." in response.text
    assert_nothing_stored(site)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_oversized_body_is_cut_off(
    site: Site, monkeypatch: pytest.MonkeyPatch, declared: bool
) -> None:
    monkeypatch.setenv("DONDOC_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    url = f"{site.page_url}/submit/cdcs"
    headers = {"content-type": "multipart/form-data; boundary=x"}
    body = b"--x\r\n" + b"0" * (8 * 1024 * 1024)
    content: Any = body if declared else iter([body])
    response = site.client.post(url, content=content, headers=headers)
    assert response.status_code == 413
    assert "Dữ liệu gửi lên vượt quá giới hạn cho phép (7 MB)" in response.text
    assert_nothing_stored(site)


def test_a_body_that_is_not_a_file_form_is_refused(site: Site) -> None:
    hidden = form_inputs(site.page(), f"{site.page_url}/submit/cdcs")
    response = site.client.post(f"{site.page_url}/submit/cdcs", data=hidden)  # urlencoded
    assert response.status_code == 400
    assert "Dữ liệu gửi lên không hợp lệ. Vui lòng tải lại trang rồi gửi lại." in response.text
    many = [pdf(f"{n}.pdf") for n in range(7)]  # past what the parser takes at all
    assert "tối đa 5 tệp báo cáo" in site.post(many).text
    assert_nothing_stored(site)


def test_a_form_without_its_csrf_token_is_refused(site: Site) -> None:
    hidden = form_inputs(site.page(), f"{site.page_url}/submit/cdcs")
    hidden["csrf_token"] = "0" * 64
    response = site.client.post(f"{site.page_url}/submit/cdcs", data=hidden, files=[pdf()])
    assert response.status_code == 403
    assert_nothing_stored(site)


# --- links, closing, limits -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["", "/form/cdcs.xlsx", "/receipt/1", "/submit/cdcs"], ids=["page", "form", "r", "s"]
)
def test_an_unknown_link_is_a_404_that_reveals_nothing(site: Site, path: str) -> None:
    token = "A" * 43
    if path == "/submit/cdcs":
        response = site.client.post(f"/u/{token}{path}", files=[pdf()])
    else:
        response = site.client.get(f"/u/{token}{path}")
    assert response.status_code == 404
    assert "Không tìm thấy trang" in response.text
    for secret in (UNIT, "Bến Nghé", "Sơ kết", "q1-so-ket", "cdcs"):
        assert secret.lower() not in response.text.lower()
    assert_nothing_stored(site)


def test_a_revoked_link_is_a_404_and_the_new_one_works(site: Site) -> None:
    with Session(site.engine) as s:
        new = issue_link(s, **ids(s, UNIT), secret=get_settings().secret(), by="vp", now=site.now)
        s.commit()
    old = site.client.get(site.page_url)
    assert old.status_code == 404 and UNIT not in old.text
    assert site.client.get(f"/u/{new}").status_code == 200


def test_another_units_receipt_is_not_shown(site: Site) -> None:
    site.post([pdf()])
    (submission,) = site.submissions()
    with Session(site.engine) as s:
        other = issue_link(
            s, **ids(s, "Q1-CD002"), secret=get_settings().secret(), by="t", now=site.now
        )
        s.commit()
    assert site.client.get(f"/u/{other}/receipt/{submission.id}").status_code == 404
    assert site.client.get(f"{site.page_url}/receipt/{submission.id}").status_code == 200


def test_after_the_hard_close_the_page_says_whom_to_contact_and_refuses_reports(
    site: Site,
) -> None:
    site.now = datetime(2015, 11, 26, 12, 0, tzinfo=VN_TZ)
    hidden = form_inputs(site.page(), f"{site.page_url}/submit/cdcs")
    site.now = HARD_CLOSE
    html = site.page()
    assert "Đã hết thời hạn nhận báo cáo này qua đường dẫn." in html
    assert "Văn phòng Liên đoàn Lao động quận 1" in html
    assert "vanthu.ldld-q1-vp@example.invalid" in html  # the office contact
    assert "<form " not in html
    response = site.client.post(
        f"{site.page_url}/submit/cdcs", data=hidden, files=[pdf()], follow_redirects=False
    )
    assert response.status_code == 403
    assert "Đã hết thời hạn nhận báo cáo" in response.text
    assert_nothing_stored(site)


def test_a_retry_after_the_hard_close_still_shows_its_receipt(site: Site) -> None:
    site.now = datetime(2015, 11, 27, 16, 59, tzinfo=VN_TZ)
    url = f"{site.page_url}/submit/cdcs"
    hidden = form_inputs(site.page(), url)
    first = site.client.post(url, data=hidden, files=[pdf()], follow_redirects=False)
    site.now = HARD_CLOSE
    retry = site.client.post(url, data=hidden, files=[pdf()], follow_redirects=False)
    assert first.status_code == retry.status_code == 303
    assert retry.headers["location"] == first.headers["location"]


def freeze_rate_limits(site: Site, monkeypatch: pytest.MonkeyPatch) -> RateLimits:
    """No refill while the test runs, however slow the machine."""
    limits = rate_limits(site.client.app)  # type: ignore[arg-type]
    for limiter in (limits.by_address, limits.by_link):
        monkeypatch.setattr(limiter, "allow", partial(RateLimiter.allow, limiter, now=0.0))
    return limits


def test_too_many_requests_from_one_address_get_a_429(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    burst = freeze_rate_limits(site, monkeypatch).by_address.burst
    codes = [site.client.get(f"/u/{'B' * 43}").status_code for _ in range(burst + 1)]
    assert codes == [404] * burst + [429]
    blocked = site.client.get(site.page_url)  # a real link from the same address, too
    assert blocked.status_code == 429 and "Quá nhiều yêu cầu" in blocked.text


def test_too_many_requests_on_one_link_get_a_429(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    burst = freeze_rate_limits(site, monkeypatch).by_link.burst
    codes = []
    for n in range(burst + 1):  # each from its own address: only the link's limit applies
        with TestClient(site.client.app, client=(f"10.0.0.{n}", 5000)) as client:
            codes.append(client.get(site.page_url).status_code)
    assert codes == [200] * burst + [429]


def test_decimal_figures_survive_the_round_trip(site: Site) -> None:
    data = {"fig_thu_kpcd_pct": "112,5", "fig_kinh_phi_cham_lo": "13.800.000"}
    assert site.post([pdf()], data).status_code == 303
    with Session(site.engine) as s:
        values = {v.key: v.num_value for v in s.exec(select(IndicatorValue))}
    assert values == {"thu_kpcd_pct": Decimal("112.5"), "kinh_phi_cham_lo": 13800000}


def test_a_returned_report_shows_the_reason_and_takes_a_new_version(site: Site) -> None:
    site.post([pdf()], FIGURES)
    with Session(site.engine) as s:
        (submission,) = s.exec(select(Submission)).all()
        assignment = s.get(Assignment, submission.assignment_id)
        assert assignment is not None
        reason = "Thiếu phụ lục số liệu"
        review(s, submission, assignment, accept=False, reason=reason, by="vp", now=site.now)
        s.commit()
    html = site.page()
    assert "Báo cáo lần 1 đã được trả lại để bổ sung: Thiếu phụ lục số liệu." in html
    assert "Trả lại, chờ bổ sung" in html
    assert site.post([pdf("bo-sung.pdf")], FIGURES).status_code == 303
    assert [s.version for s in site.submissions()] == [1, 2]


def test_an_exempt_unit_sees_no_form_and_cannot_submit(site: Site) -> None:
    url = f"{site.page_url}/submit/cdcs"
    hidden = form_inputs(site.page(), url)
    with Session(site.engine) as s:
        requirement = s.exec(select(Requirement).where(Requirement.code == "cdcs")).one()
        assignment = s.exec(
            select(Assignment).where(
                Assignment.requirement_id == requirement.id,
                Assignment.unit_id == ids(s, UNIT)["unit_id"],
            )
        ).one()
        exempt(s, assignment, reason="Đang giải thể", by="vp", now=site.now)
        s.commit()
    html = site.page()
    assert "Đơn vị đã được miễn nộp báo cáo này (Đang giải thể)." in html
    assert "<form " not in html
    response = site.client.post(url, data=hidden, files=[pdf()], follow_redirects=False)
    assert response.status_code == 403
    assert_nothing_stored(site)


# --- the rules underneath, with plain data ----------------------------------------------------

SNIFFED: dict[str, tuple[str, bytes, str | None]] = {
    "pdf": ("a.pdf", uploads.PDF, None),
    "doc": ("a.doc", uploads.OLE2, None),
    "xls": ("a.xls", uploads.OLE2, None),
    "docx": ("a.docx", uploads.ooxml("docx"), None),
    "odt": ("a.odt", uploads.odt(), None),
    "xlsx": ("a.xlsx", uploads.unrelated_xlsx(), None),
    "png": ("a.PNG", uploads.PNG, None),
    "jpeg": ("a.jpeg", uploads.JPEG, None),
    "docx as xlsx": ("a.xlsx", uploads.ooxml("docx"), "bad_content"),
    "odt as docx": ("a.docx", uploads.odt(), "bad_content"),
    "png as jpg": ("a.jpg", uploads.PNG, "bad_content"),
    "text as pdf": ("a.pdf", b"hello %PDF-1.4", "bad_content"),
    "zip": ("a.zip", uploads.plain_zip(), "bad_type"),
    "no extension": ("pdf", uploads.PDF, "bad_type"),
    "over the limit": ("a.pdf", uploads.PDF + b"0" * 100_000, "too_large"),
}


@pytest.mark.parametrize("case", list(SNIFFED))
def test_files_are_told_apart_by_their_content(case: str) -> None:
    name, content, refusal = SNIFFED[case]
    try:
        checked = check_file(name, io.BytesIO(content), max_bytes=100_000)
    except UploadError as exc:
        assert exc.code == refusal
    else:
        assert refusal is None and checked.name == name and checked.size == len(content)


SAFE_NAMES = {
    "bao-cao.pdf": "bao-cao.pdf",
    "C:\\Users\\vanthu\\Báo cáo.docx": "Báo cáo.docx",
    "../../etc/passwd": "passwd",
    "bao\x00cao\r\n.pdf": "baocao.pdf",
    " khoảng trắng.pdf ": "khoảng trắng.pdf",
    "x" * 300 + ".pdf": "x" * 251 + ".pdf",
}


@pytest.mark.parametrize("raw", list(SAFE_NAMES))
def test_only_a_plain_file_name_is_kept(raw: str) -> None:
    assert safe_name(raw) == SAFE_NAMES[raw]


@pytest.mark.parametrize("raw", ["", "  ", "..", "/", ".htaccess", "a/"])
def test_names_without_a_file_name_are_refused(raw: str) -> None:
    with pytest.raises(UploadError):
        safe_name(raw)


def test_an_oversized_stream_is_not_read_past_the_limit() -> None:
    pulled: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for n in range(10):
            pulled.append(n)
            yield b"0" * 10

    async def drain() -> None:
        async for _ in limit_stream(chunks(), max_bytes=25, max_file_bytes=20):
            pass

    with pytest.raises(UploadError) as refused:
        asyncio.run(drain())
    assert refused.value.code == "body_too_large" and pulled == [0, 1, 2]


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        (None, ""),
        (1250, "1250"),
        (1250.0, "1250"),
        (12.5, "12,5"),
        (0.125, "0,125"),
        (Decimal("7"), "7"),
        (True, "Có"),
        (False, "Không"),
        (" VM ", "VM"),
        ("1.250", "1.250"),
    ],
)
def test_xlsx_cells_read_as_a_unit_would_type_them(cell: object, text: str) -> None:
    assert cell_text(cell) == text


def test_receipt_numbers_round_trip() -> None:
    assert receipt_number(3, 42) == "BC-3-000042"
    assert parse_receipt_number(" bc-3-000042 ") == (3, 42)
    assert parse_receipt_number("BC-3") is None


@pytest.mark.parametrize(
    ("now", "text"),
    [
        (datetime(2015, 11, 19, 9, 0, tzinfo=VN_TZ), "Còn 3 ngày làm việc"),  # Thu: Fri, Mon, Tue
        (datetime(2015, 11, 21, 9, 0, tzinfo=VN_TZ), "Còn 2 ngày làm việc"),  # Sat: Mon, Tue
        (datetime(2015, 11, 23, 23, 0, tzinfo=VN_TZ), "Còn 1 ngày làm việc"),
        (datetime(2015, 11, 24, 23, 59, tzinfo=VN_TZ), "Hôm nay là ngày cuối cùng của hạn nộp"),
        (datetime(2015, 11, 25, 0, 0, tzinfo=VN_TZ), "Quá hạn"),
    ],
)
def test_working_days_left_count_to_the_last_day_on_time(now: datetime, text: str) -> None:
    due = datetime(2015, 11, 25, 0, 0, tzinfo=VN_TZ)  # "đến hết ngày 24/11/2015"
    calendar = WorkingCalendar(WorkWeek.MON_FRI)
    assert time_left(due, now, calendar, VN_TZ) == text
