"""The consolidate flow through Prefect (test harness): the claim's version drafted once, the
summary artifact, and the office's email through a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from dondoc.remindrun import dispatch_due
from dondoc.settings import get_settings
from flows.consolidate import consolidate
from models import Consolidation, Delivery
from tests.support.consolidating import claim_now, requirement_units, send_report
from tests.support.smtp import Inbox, smtp_for_dondoc
from tests.support.tracking import CAMPAIGN, load_seed, local

pytest_plugins = ["tests.prefect_harness"]

OFFICE = ("chanhvanphong.ldld-q1-vp@example.invalid", "vanthu.ldld-q1-vp@example.invalid")


@pytest.fixture
def mail(env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    monkeypatch.setenv("DONDOC_PUBLIC_BASE_URL", "https://dondoc.example.vn")
    with smtp_for_dondoc(monkeypatch) as inbox:
        yield inbox


def count(engine: Engine, model: type[Consolidation] | type[Delivery]) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_drafts_once_publishes_and_emails_the_office(
    engine: Engine, tmp_path: Path, mail: Inbox
) -> None:
    load_seed(tmp_path / "plan")
    with Session(engine) as s:
        codes = [u.code for u in requirement_units(s, CAMPAIGN, "ban-chuyen-de")]
    for code in codes:
        send_report(CAMPAIGN, code, local("2015-11-19 09:00"), {})
    [claim] = claim_now(CAMPAIGN, local("2015-11-20 10:00"))

    first = consolidate(claim.requirement_id, claim.state_key)
    again = consolidate(claim.requirement_id, claim.state_key)  # the event delivered twice
    sent = dispatch_due(engine, now=local("2015-11-20 10:05"), settings=get_settings(), worker="t")

    assert (first.version, again.consolidation_id) == (1, first.consolidation_id)
    assert (count(engine, Consolidation), count(engine, Delivery)) == (1, 2)
    assert sent["sent"] == 2
    [message] = mail.to(OFFICE[1])
    assert "Bản tổng hợp lần 1" in str(message["subject"])
    body = Inbox.text(message)
    assert "Đã nộp 7/7; đúng hạn 7; trễ hạn 0; chưa nộp 0." in body
    url = f"https://dondoc.example.vn/office/consolidations/{first.consolidation_id}/files/workbook"
    assert url in body
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["consolidation-q1-so-ket-2015-ban-chuyen-de"])
            )
        )
    assert artifacts and "Đã nộp 7/7" in str(artifacts[-1].data)
