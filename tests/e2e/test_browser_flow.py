"""The whole round trip in headless Chromium against the real app on loopback: a unit sends its
report from a phone, the office returns it with a reason and exports the table, the unit reads
the reason and sends version 2. Time is frozen (the app's clock) on Mon 23/11/2015, the day
before the CĐCS deadline; SQLite only (the HTTP tests cover PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from argon2 import PasswordHasher
from openpyxl import load_workbook
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from sqlmodel import Session, select

from dondoc import accounts
from dondoc.accounts import create_user
from dondoc.db import get_engine
from dondoc.links import issue_link
from dondoc.plans.loader import load_plan
from dondoc.rules.deadlines import VN_TZ
from dondoc.settings import get_settings
from models import Campaign, Unit
from tests.support.files import SEED, copy_examples
from tests.support.server import serving
from tests.support.uploads import PDF
from web.app import create_app
from web.deps import get_now

CAMPAIGN = "q1-so-ket-2015"
UNIT = "Q1-CD001"
UNIT_NAME = "CĐCS Ủy ban nhân dân phường Bến Nghé"
USERNAME, PASSWORD = "vanphong", "mat-khau-du-dai"
REASON = "Thiếu phụ lục số liệu đoàn viên nữ"
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}, "locale": "vi-VN"}


@dataclass
class Clock:
    now: datetime


@dataclass
class Site:
    base: str
    token: str
    clock: Clock  # the app's "now"; the test moves it
    shots: Path

    @property
    def unit_url(self) -> str:
        return f"{self.base}/u/{self.token}"

    def shoot(self, page: Page, name: str, at: Locator | None = None) -> None:
        """The whole page, or (for a long one) the screen scrolled to `at`."""
        if at is not None:
            at.scroll_into_view_if_needed()
        page.screenshot(path=self.shots / f"{name}.png", full_page=at is None)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ).astimezone(UTC)


def seed(tmp_path: Path) -> str:
    """The seed plan, a link for the unit and an office account; returns the link's token."""
    at = local("2015-11-05 09:00")
    with Session(get_engine()) as session:
        load_plan(session, copy_examples(tmp_path) / SEED, now=at, actor="test", tz=VN_TZ)
        campaign = session.exec(select(Campaign).where(Campaign.code == CAMPAIGN)).one()
        unit = session.exec(select(Unit).where(Unit.code == UNIT)).one()
        token = issue_link(
            session,
            campaign_id=campaign.id or 0,
            unit_id=unit.id or 0,
            secret=get_settings().secret(),
            by="test",
            now=at,
        )
        create_user(
            session, username=USERNAME, display_name="Văn phòng Q1", password=PASSWORD, now=at
        )
        session.commit()
    return token


@pytest.fixture
def site(env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    # Argon2 at its light settings: the same checks, a fraction of the time per login.
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    token = seed(tmp_path)
    clock = Clock(local("2015-11-23 09:00"))  # Monday, the day before the CĐCS deadline
    app = create_app()
    app.dependency_overrides[get_now] = lambda: clock.now
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with serving(app) as base:
        yield Site(base, token, clock, shots)


@pytest.fixture
def contexts(browser: object) -> Iterator[tuple[BrowserContext, BrowserContext]]:
    chromium = cast(Browser, browser)
    phone = chromium.new_context(**PHONE)
    desktop = chromium.new_context(**DESKTOP, accept_downloads=True)
    for context in (phone, desktop):
        context.set_default_timeout(10_000)
    yield phone, desktop
    phone.close()
    desktop.close()


def report(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(PDF + text.encode())
    return path


def fits_the_screen(page: Page) -> bool:
    width = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return int(width) <= 0


def unit_submits(site: Site, page: Page, pdf: Path, figures: dict[str, str]) -> str:
    """Choose the file, type the figures, send; returns the receipt number shown."""
    page.locator("#files-cdcs").set_input_files(pdf)
    for key, value in figures.items():
        page.locator(f"#cdcs-{key}").fill(value)
    page.get_by_role("button", name="Gửi báo cáo").tap()
    page.wait_for_url(f"{site.unit_url}/receipt/*")
    return page.locator("#receipt-number").inner_text()


def receipt_version(page: Page) -> str:
    return (
        page.locator("tr", has=page.get_by_role("rowheader", name="Lần nộp"))
        .locator("td")
        .inner_text()
    )


def office_logs_in(site: Site, page: Page) -> None:
    page.goto(f"{site.base}/office/c/{CAMPAIGN}")
    expect(page).to_have_url(f"{site.base}/office/login?next=/office/c/{CAMPAIGN}")
    page.get_by_label("Tên đăng nhập").fill(USERNAME)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).to_have_url(f"{site.base}/office/c/{CAMPAIGN}")


def exported_row(path: Path) -> dict[str, object]:
    sheet = load_workbook(path, read_only=True)["Trạng thái"]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    (row,) = [r for r in rows if r[header.index("Mã đơn vị")] == UNIT]
    return dict(zip(header, row, strict=True))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_unit_reports_from_a_phone_the_office_returns_it_and_the_unit_resubmits(
    site: Site, contexts: tuple[BrowserContext, BrowserContext], tmp_path: Path
) -> None:
    phone, desktop = contexts
    unit = phone.new_page()
    office = desktop.new_page()

    # (a) The unit opens its link on a phone: what, by when, how long is left; then sends.
    unit.goto(site.unit_url)
    expect(unit.get_by_role("heading", name=UNIT_NAME)).to_be_visible()
    expect(unit.get_by_text("23:59 thứ Ba, ngày 24/11/2015")).to_be_visible()
    expect(unit.get_by_text("Còn 1 ngày làm việc")).to_be_visible()
    assert fits_the_screen(unit)
    site.shoot(unit, "1-unit-page-phone", at=unit.get_by_text("Còn 1 ngày làm việc"))
    first = unit_submits(
        site,
        unit,
        report(tmp_path, "Báo cáo sơ kết.pdf", "lan 1"),
        {"so_cnvcld": "1.300", "so_doan_vien": "1.250", "so_doan_vien_nu": "700"},
    )
    assert first.startswith("BC-")
    assert receipt_version(unit) == "1"
    expect(unit.get_by_text("nộp đúng hạn")).to_be_visible()
    expect(unit.get_by_text("Báo cáo sơ kết.pdf")).to_be_visible()
    assert fits_the_screen(unit)
    site.shoot(unit, "2-receipt-phone")

    # (b) The office sees it submitted, opens the unit, returns the version, exports.
    office_logs_in(site, office)
    office.get_by_label("Tìm theo tên hoặc mã").fill(UNIT)
    office.get_by_role("button", name="Lọc").click()
    row = office.locator(f'tr[data-unit="{UNIT}"]')
    expect(row).to_contain_text("Đã nộp đúng hạn")
    expect(row).to_contain_text("phiên bản 1")
    row.get_by_role("link", name=UNIT_NAME).click()
    expect(office.get_by_role("heading", name=UNIT_NAME)).to_be_visible()
    expect(office.locator(".current-status")).to_have_text("Đã nộp đúng hạn")
    expect(office.get_by_role("link", name="Báo cáo sơ kết.pdf")).to_be_visible()
    office.get_by_text("Trả lại để bổ sung", exact=True).click()  # opens the <details>
    office.get_by_label("Nội dung đề nghị bổ sung").fill(REASON)
    office.get_by_role("button", name="Trả lại", exact=True).click()
    expect(office.get_by_text("Đã trả lại phiên bản 1 để bổ sung.")).to_be_visible()
    expect(office.locator(".current-status")).to_have_text("Trả lại, chờ bổ sung")
    expect(office.get_by_text(f"Nội dung cần bổ sung: {REASON}")).to_be_visible()
    site.shoot(office, "3-office-unit-returned")
    office.get_by_role("link", name=re.compile("^← ")).click()  # back to the campaign
    with office.expect_download() as download:
        office.get_by_role("link", name="Excel (.xlsx)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    exported = exported_row(saved)
    assert exported["Tên đơn vị"] == UNIT_NAME
    assert exported["Trạng thái"] == "Trả lại, chờ bổ sung"
    assert exported["Số lần nộp"] == 1

    # (c) That afternoon the unit reopens its link, reads why, and sends version 2.
    site.clock.now = local("2015-11-23 15:00")
    unit.goto(site.unit_url)
    returned = unit.get_by_text("Báo cáo lần 1 đã được trả lại để bổ sung")
    expect(returned).to_be_visible()
    expect(returned).to_contain_text(REASON)
    expect(unit.get_by_role("heading", name="Nộp lại (phiên bản mới)")).to_be_visible()
    site.shoot(unit, "4-unit-returned-phone", at=returned)
    second = unit_submits(
        site,
        unit,
        report(tmp_path, "Báo cáo sơ kết (bổ sung).pdf", "lan 2"),
        {"so_cnvcld": "1.300", "so_doan_vien": "1.250", "so_doan_vien_nu": "712"},
    )
    assert second != first
    assert receipt_version(unit) == "2"
    site.shoot(unit, "5-receipt-v2-phone")
    unit.get_by_role("link", name="Quay lại trang nộp báo cáo").tap()
    site.shoot(unit, "6-unit-history-phone", at=unit.get_by_text("Các lần đơn vị đã nộp"))
