"""What the office dashboard reads: progress per requirement and the filtered, paginated table
of units, with each assignment's status computed in SQL.

Statuses come from dondoc.statusquery (SQL mirroring the pure rules). A campaign's whole table
is read in one query into a snapshot (dondoc.unittable) that every page view, filter and export
then uses, for as long as dondoc.statuscache finds the database unchanged and `now` between the
same two status-changing moments: at 10,000 units a page view filters rows in memory instead
of recomputing every status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from dondoc.labels import SECTOR_LABELS_VI
from dondoc.rules.status import Status
from dondoc.statuscache import CampaignCache, Window
from dondoc.statusquery import TableRow, status_rows, status_table, status_window, to_row
from dondoc.unittable import (
    PER_PAGE,
    FilterOptions,
    Page,
    RequirementProgress,
    UnitFilter,
    UnitTable,
    fold,
    haystack,
)
from models import Campaign, Requirement

__all__ = [
    "PER_PAGE",
    "CampaignOverview",
    "CampaignSnapshot",
    "FilterOptions",
    "Page",
    "RequirementProgress",
    "UnitFilter",
    "campaign_overview",
    "filter_options",
    "fold",
    "progress",
    "snapshot",
    "unit_page",
    "unit_rows",
]


@dataclass(frozen=True)
class CampaignOverview:
    campaign: Campaign
    counts: dict[Status, int]

    @property
    def expected(self) -> int:
        return sum(self.counts.values()) - self.counts.get(Status.EXEMPT, 0)

    @property
    def submitted(self) -> int:
        return self.counts.get(Status.ON_TIME, 0) + self.counts.get(Status.LATE, 0)


@dataclass(frozen=True)
class CampaignSnapshot:
    """A campaign's page data at one state of the database, for one stretch of time. Shared
    between requests: read it, never change it."""

    progress: list[RequirementProgress]
    options: FilterOptions
    table: UnitTable


def build_snapshot(
    session: Session, campaign_id: int, now: datetime
) -> tuple[CampaignSnapshot, Window]:
    requirements = session.exec(
        select(Requirement)
        .where(Requirement.campaign_id == campaign_id)
        .order_by(col(Requirement.position), col(Requirement.code))
    ).all()
    query, _ = status_rows(now, campaign_id)
    # On the connection: plain rows, without the ORM's per-row work (10,000 rows).
    raw = session.connection().execute(query).all()
    rows = [to_row(r) for r in raw]
    haystacks = [haystack(r.unit_code, r.unit_name, r.unit_short_name) for r in raw]
    built = CampaignSnapshot(
        _progress(requirements, rows), _options(requirements, rows), UnitTable(rows, haystacks)
    )
    return built, Window(*status_window(session, campaign_id, now))


_SNAPSHOTS = CampaignCache(build_snapshot)


def snapshot(session: Session, campaign: Campaign, *, now: datetime) -> CampaignSnapshot:
    return _SNAPSHOTS.get(session, campaign.id or 0, now=now)


def progress(session: Session, campaign: Campaign, *, now: datetime) -> list[RequirementProgress]:
    """Counts by status for each requirement of the campaign, in plan order."""
    return snapshot(session, campaign, now=now).progress


def filter_options(session: Session, campaign: Campaign, *, now: datetime) -> FilterOptions:
    return snapshot(session, campaign, now=now).options


def unit_page(
    session: Session,
    campaign: Campaign,
    *,
    now: datetime,
    filters: UnitFilter,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page:
    """One page of the filtered table; a page past the end shows the last one."""
    return snapshot(session, campaign, now=now).table.page(filters, page, per_page)


def unit_rows(
    session: Session, campaign: Campaign, *, now: datetime, filters: UnitFilter | None = None
) -> list[TableRow]:
    """Every row matching the filters (exports, checks), in table order."""
    return list(snapshot(session, campaign, now=now).table.matching(filters or UnitFilter()))


def _progress(
    requirements: Sequence[Requirement], rows: list[TableRow]
) -> list[RequirementProgress]:
    by_code = {
        r.code: RequirementProgress(r.code, r.title, r.group_label or r.code, r.due_at)
        for r in requirements
    }
    for row in rows:
        counts = by_code[row.requirement_code].counts
        counts[row.status] = counts.get(row.status, 0) + 1
    return list(by_code.values())


def _options(requirements: Sequence[Requirement], rows: list[TableRow]) -> FilterOptions:
    sectors = {r.sector for r in rows if r.sector}
    wards = {r.ward for r in rows if r.ward}
    return FilterOptions(
        requirements=[(r.code, r.group_label or r.title) for r in requirements],
        sectors=sorted(sectors, key=lambda s: SECTOR_LABELS_VI.get(s, s)),
        wards=sorted(wards, key=fold),
    )


def campaign_overview(session: Session, *, now: datetime) -> list[CampaignOverview]:
    table = status_table(now)
    counts: dict[int, dict[Status, int]] = {}
    grouped = session.execute(
        select(table.c.campaign_id, table.c.status, func.count()).group_by(
            table.c.campaign_id, table.c.status
        )
    )
    for campaign_id, status, count in grouped:
        counts.setdefault(campaign_id, {})[Status(status)] = count
    campaigns = session.exec(
        select(Campaign).order_by(col(Campaign.issued_on).desc(), col(Campaign.code))
    ).all()
    return [CampaignOverview(c, counts.get(c.id or 0, {})) for c in campaigns]
