"""In headless Chromium: the office sees a reminder whose outcome is unknown on the unit page,
presses "Gửi lại", and reads that it goes out again; the buttons are gone. SQLite only."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, expect
from sqlmodel import Session

from dondoc.campaigns import get_assignment, get_campaign, get_unit
from dondoc.db import get_engine
from models import Delivery
from tests.e2e import test_browser_flow as flow
from tests.e2e.test_browser_flow import CAMPAIGN, UNIT, Site, local, office_logs_in

site, contexts = flow.site, flow.contexts  # the round trip's app on loopback and browsers


def unknown_reminder() -> None:
    at = local("2015-11-21 08:05")
    with Session(get_engine()) as session:
        campaign = get_campaign(session, CAMPAIGN)
        assignment, _ = get_assignment(session, campaign, get_unit(session, UNIT))
        session.add(Delivery(campaign_id=campaign.id or 0, assignment_id=assignment.id,
                             step_key="before-3", kind="before", channel="zalo",
                             recipient="84900000101", state="unknown", not_before=at,
                             created_at=at, claimed_at=at, attempts=1))  # fmt: skip
        session.commit()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_office_sends_an_unknown_reminder_again_from_the_unit_page(
    site: Site, contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    unknown_reminder()
    office = contexts[1].new_page()
    office_logs_in(site, office)
    office.goto(f"{site.base}/office/c/{CAMPAIGN}/u/{UNIT}")
    row = office.locator("table.deliveries tr[data-state=unknown]")
    expect(row.get_by_text("Không rõ đã đến hay chưa")).to_be_visible()
    site.shoot(office, "settle-1-unknown", at=row)

    row.get_by_role("button", name="Gửi lại").click()

    expect(office.get_by_role("status")).to_contain_text("sẽ được gửi lại")
    expect(office.locator("table.deliveries tr[data-state=pending]")).to_contain_text("Chờ gửi")
    expect(office.get_by_role("button", name="Gửi lại")).to_have_count(0)
