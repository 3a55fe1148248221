"""The office's consolidation page through HTTP against the real app: consolidate now, the
versions with their downloads, accepting a version (which rolls it up into the city's
campaign), login and CSRF."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from sqlmodel import Session, select

from dondoc import accounts
from models import Campaign, Consolidation, Submission
from models.enums import Channel
from tests.support.files import CITY
from tests.support.office import CAMPAIGN, Clock, csrf, load_seed, login, mixed_scenario
from tests.support.tracking import load_city
from web.app import create_app
from web.deps import get_now

PAGE = f"/office/c/{CAMPAIGN}/consolidations"


@pytest.fixture
def client(
    env: str, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    load_seed(session, tmp_path)
    load_city(tmp_path)  # the copy load_seed made holds the city plan too
    assert (tmp_path / CITY).exists()
    mixed_scenario(session)
    app = create_app()
    app.dependency_overrides[get_now] = lambda: Clock().now
    with TestClient(app) as test_client:
        assert login(test_client).status_code == 303
        yield test_client


def post(client: TestClient, url: str, **data: str) -> Response:
    token = csrf(client.get(PAGE))
    response: Response = client.post(url, data={"csrf_token": token, **data})
    return response


def test_consolidate_now_lists_a_version_with_its_three_downloads(client: TestClient) -> None:
    assert "Chưa có bản tổng hợp." in client.get(PAGE).text

    page = post(client, f"{PAGE}/run", requirement="cdcs")

    assert "Đã có bản tổng hợp lần 1 cho cdcs." in page.text
    assert "theo yêu cầu của Văn phòng" in page.text
    links = re.findall(r'href="(/office/consolidations/\d+/files/\w+)"', page.text)
    assert [link.rsplit("/", 1)[1] for link in links] == ["workbook", "document", "archive"]
    workbook = client.get(links[0])
    assert workbook.status_code == 200
    assert "tong-hop_v1.xlsx" in workbook.headers["content-disposition"]
    book = load_workbook(io.BytesIO(workbook.content))
    assert book.sheetnames[0] == "Tình hình nộp"
    again = post(client, f"{PAGE}/run", requirement="cdcs")  # same state: the same version
    assert "Đã có bản tổng hợp lần 1 cho cdcs." in again.text


def test_accepting_rolls_the_version_up_into_the_city_campaign(
    client: TestClient, session: Session
) -> None:
    post(client, f"{PAGE}/run", requirement="cdcs")
    version = session.exec(select(Consolidation)).one()

    page = post(client, f"/office/consolidations/{version.id}/accept")
    twice = post(client, f"/office/consolidations/{version.id}/accept")

    assert "Đã duyệt bản tổng hợp lần 1. Bản tổng hợp đã được gửi lên cấp trên" in page.text
    assert "Đã duyệt bởi vanphong" in twice.text
    session.expire_all()
    [rollup] = session.exec(
        select(Submission).where(Submission.channel == Channel.ROLLUP.value)
    ).all()
    city = session.exec(select(Campaign).where(Campaign.code == "hcm-78-2015")).one()
    assert rollup.source_ref == f"consolidation:{version.id}"
    assert city.id is not None


def test_pages_need_a_login_and_forms_a_csrf_token(client: TestClient) -> None:
    post(client, f"{PAGE}/run", requirement="ban-chuyen-de")
    refused = client.post(f"{PAGE}/run", data={"requirement": "cdcs"})
    assert refused.status_code == 403
    client.cookies.clear()
    assert client.get(PAGE, follow_redirects=False).status_code in (302, 303)
    assert client.get(
        "/office/consolidations/1/files/workbook", follow_redirects=False
    ).status_code in (302, 303)
