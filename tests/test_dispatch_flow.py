"""The dispatch-outbox flow through Prefect (test harness): a receipt enqueued on a Sunday
evening goes out at once, not at the next reminder tick on Monday morning; a second run sends
nothing again."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session

from dondoc.campaigns import get_campaign
from dondoc.receipts import enqueue_receipt
from dondoc.settings import get_settings
from flows.reminders import dispatch_outbox
from models.enums import Channel
from tests.support.office import CAMPAIGN, load_seed, local, submit
from tests.support.smtp import Inbox, smtp_for_dondoc
from tests.test_delivery_receipts import UNIT, unit_id

pytest_plugins = ["tests.prefect_harness"]


@pytest.fixture
def inbox(env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_for_dondoc(monkeypatch) as received:
        yield received


@pytest.mark.usefixtures("prefect_harness")
def test_a_receipt_on_a_sunday_evening_goes_out_with_the_next_dispatch_run(
    session: Session, tmp_path: Path, inbox: Inbox
) -> None:
    load_seed(session, tmp_path)
    figures: dict[str, Decimal | str] = {"so_doan_vien": Decimal(1250)}
    sunday = "2015-11-22 21:30"
    submission = submit(session, UNIT, sunday, Channel.PORTAL, figures)
    campaign_id = get_campaign(session, CAMPAIGN).id or 0
    enqueue_receipt(session, submission.id or 0, campaign_id=campaign_id, unit_id=unit_id(session),
                    settings=get_settings(), now=local(sunday))  # fmt: skip
    session.commit()

    first = dispatch_outbox(now=local("2015-11-22 21:35"))
    again = dispatch_outbox(now=local("2015-11-22 21:40"))

    assert first.get("sent") == 2 and "sent" not in again
    assert len(inbox.messages) == 2
