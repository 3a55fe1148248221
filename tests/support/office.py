"""The seed campaign with a mixed set of reports, and a logged-in office client."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, col, select

from dondoc.accounts import create_user
from dondoc.campaigns import get_assignment, get_campaign, get_unit
from dondoc.intake import record_submission
from dondoc.office import exempt, extend, review
from dondoc.plans.loader import load_plan
from dondoc.rules.deadlines import VN_TZ, parse_deadline
from dondoc.settings import get_settings
from dondoc.storage import store
from models import Assignment, Campaign, Submission
from models.enums import Channel
from tests.support.files import SEED, copy_examples

CAMPAIGN = "q1-so-ket-2015"
USERNAME, PASSWORD = "vanphong", "mat-khau-du-dai"
LOADED = datetime(2015, 11, 5, 1, 0, tzinfo=UTC)
# 09:00 on Wed 25/11/2015 in Hồ Chí Minh City: the CĐCS deadline (end of 24/11) has passed.
NOW = datetime(2015, 11, 25, 2, 0, tzinfo=UTC)
REPORT = b"%PDF-1.4 bao cao so ket nua nhiem ky"
REPORT_NAME = "Báo cáo sơ kết – CĐCS Bến Nghé.pdf"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def local(text: str) -> datetime:
    """'2015-11-24 23:59' in Hồ Chí Minh City, as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ).astimezone(UTC)


@dataclass
class Clock:
    now: datetime = NOW


def load_seed(session: Session, tmp_path: Path) -> Campaign:
    files = copy_examples(tmp_path)
    load_plan(session, files / SEED, now=LOADED, actor="test", tz=VN_TZ)
    create_user(
        session, username=USERNAME, display_name="Văn phòng Q1", password=PASSWORD, now=LOADED
    )
    session.commit()
    return get_campaign(session, CAMPAIGN)


def submit(
    session: Session,
    unit: str,
    at: str,
    channel: Channel = Channel.OFFICE,
    values: dict[str, Decimal | str] | None = None,
    with_file: bool = False,
) -> Submission:
    campaign = get_campaign(session, CAMPAIGN)
    assignment, _ = get_assignment(session, campaign, get_unit(session, unit))
    root = get_settings().effective_storage_dir
    files = [store(root, REPORT_NAME, io.BytesIO(REPORT))] if with_file else []
    return record_submission(
        session,
        assignment=assignment,
        received_at=local(at),
        channel=channel,
        files=files,
        values=values,
        recorded_by="test",
        now=local(at),
    )


def mixed_scenario(session: Session) -> None:
    """What the office has seen by 09:00 on 25/11/2015 (NOW):

    ban-chuyen-de (7, due end of 20/11): BTC on time, BTG late, 5 missing.
    cdcs (56, due end of 24/11): CD001 on time (23:59) with a file and figures, CD002 late
    (00:00 next day, Zalo), CD003 extended to 27/11 (pending), CD004 reports only on 26/11
    (missing at NOW), CD005 returned, CD006 returned then corrected (on time: the first report
    decides), CD047 exempt; the other 49 missing."""
    submit(session, "LDLD-Q1-BTC", "2015-11-20 16:00")
    submit(session, "LDLD-Q1-BTG", "2015-11-21 08:00", Channel.EMAIL)
    figures: dict[str, Decimal | str] = {
        "so_cnvcld": Decimal(1300),
        "so_doan_vien": Decimal(1250),
        "xep_loai_2014": "VM",
        "to_chuc_hoi_nghi": Decimal(1),
        "thu_kpcd_pct": Decimal("97.5"),
    }
    submit(session, "Q1-CD001", "2015-11-24 23:59", values=figures, with_file=True)
    submit(session, "Q1-CD002", "2015-11-25 00:00", Channel.ZALO)
    campaign = get_campaign(session, CAMPAIGN)
    a3, r3 = get_assignment(session, campaign, get_unit(session, "Q1-CD003"))
    extend(
        session,
        a3,
        r3,
        until=parse_deadline("đến hết ngày 27/11/2015"),
        reason="Chủ tịch ốm",
        by="test",
        now=local("2015-11-23 10:00"),
        tz=VN_TZ,
    )
    submit(session, "Q1-CD004", "2015-11-26 10:00")
    returned = submit(session, "Q1-CD005", "2015-11-23 09:00", Channel.EMAIL)
    a5, _ = get_assignment(session, campaign, get_unit(session, "Q1-CD005"))
    review(session, returned, a5, accept=False, reason="Thiếu phụ lục", by="test", now=NOW)
    corrected = submit(session, "Q1-CD006", "2015-11-22 09:00")
    a6, _ = get_assignment(session, campaign, get_unit(session, "Q1-CD006"))
    review(session, corrected, a6, accept=False, reason="Thiếu số liệu", by="test", now=NOW)
    submit(session, "Q1-CD006", "2015-11-25 08:00")
    a47, _ = get_assignment(session, campaign, get_unit(session, "Q1-CD047"))
    exempt(session, a47, reason="Đang giải thể", by="test", now=local("2015-11-20 09:00"))
    session.commit()


def csrf(page: Response) -> str:
    match = _CSRF.search(page.text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: TestClient, password: str = PASSWORD, next_url: str = "/office") -> Response:
    token = csrf(client.get("/office/login"))
    form = {"username": USERNAME, "password": password, "csrf_token": token, "next": next_url}
    response: Response = client.post("/office/login", data=form, follow_redirects=False)
    return response


def assignment_of(session: Session, unit: str) -> Assignment:
    """The unit's assignment as the database holds it now (after the app's commits)."""
    session.expire_all()
    campaign = get_campaign(session, CAMPAIGN)
    assignment, _ = get_assignment(session, campaign, get_unit(session, unit))
    return assignment


def versions_of(session: Session, unit: str) -> list[Submission]:
    assignment = assignment_of(session, unit)
    return list(
        session.exec(
            select(Submission)
            .where(Submission.assignment_id == assignment.id)
            .order_by(col(Submission.version))
        )
    )
