"""What the office dashboard reads: progress per requirement and the filtered, paginated table
of units, with each assignment's status computed in SQL.

Statuses come from dondoc.statusquery (SQL mirroring the pure rules): at 10,000 units a page
filters and counts in the database instead of loading every submission into Python."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    bindparam,
    false,
    func,
    true,
)
from sqlalchemy import select as select_columns
from sqlalchemy.sql.elements import SQLCoreOperations
from sqlmodel import Session, col, select

from dondoc.labels import SECTOR_LABELS_VI
from dondoc.rules.status import Status
from dondoc.statusquery import TableRow, status_rows, status_table, to_row
from models import Assignment, Campaign, Requirement, Unit

PER_PAGE = 50


@dataclass(frozen=True)
class UnitFilter:
    status: Status | None = None
    requirement: str | None = None
    sector: str | None = None
    ward: str | None = None
    q: str | None = None


@dataclass(frozen=True)
class Page:
    rows: list[TableRow]
    total: int
    number: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass
class RequirementProgress:
    code: str
    title: str
    label: str
    due_at: datetime
    counts: dict[Status, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def expected(self) -> int:
        return self.total - self.counts.get(Status.EXEMPT, 0)

    @property
    def submitted(self) -> int:
        return self.counts.get(Status.ON_TIME, 0) + self.counts.get(Status.LATE, 0)


@dataclass(frozen=True)
class FilterOptions:
    requirements: list[tuple[str, str]]  # (code, label)
    sectors: list[str]
    wards: list[str]


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


def progress(session: Session, campaign: Campaign, *, now: datetime) -> list[RequirementProgress]:
    """Counts by status for each requirement of the campaign, in plan order."""
    table = status_table(now, campaign.id)
    requirements = session.exec(
        select(Requirement)
        .where(Requirement.campaign_id == campaign.id)
        .order_by(col(Requirement.position), col(Requirement.code))
    ).all()
    by_id = {
        r.id: RequirementProgress(r.code, r.title, r.group_label or r.code, r.due_at)
        for r in requirements
    }
    counts = session.execute(
        select(table.c.requirement_id, table.c.status, func.count()).group_by(
            table.c.requirement_id, table.c.status
        )
    )
    for requirement_id, status, count in counts:
        by_id[requirement_id].counts[Status(status)] = count
    return list(by_id.values())


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


def unit_page(
    session: Session,
    campaign: Campaign,
    *,
    now: datetime,
    filters: UnitFilter,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page:
    """One page of the filtered table; a page past the end shows the last one.

    Without a status filter the page is picked from the units alone and statuses are computed
    for its rows only; with one, every status is computed once and the total comes with the
    rows (a window count)."""
    if filters.status is not None:
        query = _filtered(session, campaign, now, filters)
        rows, total, number = _paged(session, query, page, per_page)
        return Page([to_row(r) for r in rows], total, number, per_page)
    chosen = (
        select_columns(col(Assignment.id))
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .where(col(Requirement.campaign_id) == campaign.id)
        .where(*_unit_conditions(session, campaign, filters, col(Assignment.unit_id)))
        .order_by(col(Requirement.position), col(Unit.code), col(Assignment.id))
    )
    ids, total, number = _paged(session, chosen, page, per_page)
    only = [r[0] for r in ids]
    shown = session.execute(_filtered(session, campaign, now, UnitFilter(), only=only))
    return Page([to_row(r) for r in shown], total, number, per_page)


def _paged(
    session: Session, query: Select[Any], page: int, per_page: int
) -> tuple[list[Row[Any]], int, int]:
    """(rows, total, page number) with the total as a window count over the same query."""
    counted = query.add_columns(func.count().over().label("total"))
    number = max(1, page)
    rows = list(session.execute(counted.limit(per_page).offset((number - 1) * per_page)))
    if not rows and number > 1:
        total = session.execute(select_columns(func.count()).select_from(query.subquery()))
        number = max(1, -(-total.scalar_one() // per_page))
        rows = list(session.execute(counted.limit(per_page).offset((number - 1) * per_page)))
    return rows, int(rows[0]._mapping["total"]) if rows else 0, number


def unit_rows(
    session: Session, campaign: Campaign, *, now: datetime, filters: UnitFilter | None = None
) -> list[TableRow]:
    """Every row matching the filters (exports, checks), in table order."""
    query = _filtered(session, campaign, now, filters or UnitFilter())
    return [to_row(r) for r in session.execute(query)]


def filter_options(session: Session, campaign: Campaign) -> FilterOptions:
    requirements = session.exec(
        select(Requirement)
        .where(Requirement.campaign_id == campaign.id)
        .order_by(col(Requirement.position), col(Requirement.code))
    ).all()
    units = (
        select(Unit.sector, Unit.ward)
        .join(Assignment, col(Assignment.unit_id) == Unit.id)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(Requirement.campaign_id == campaign.id)
        .distinct()
    )
    pairs = session.execute(units).all()
    return FilterOptions(
        requirements=[(r.code, r.group_label or r.title) for r in requirements],
        sectors=sorted({s for s, _ in pairs if s}, key=lambda s: SECTOR_LABELS_VI.get(s, s)),
        wards=sorted({w for _, w in pairs if w}, key=fold),
    )


def _fold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord("đ"): "d", ord("Đ"): "D"}
    table |= {code: None for code in range(0x300, 0x370)}  # stray combining marks
    for code in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        decomposed = unicodedata.normalize("NFD", chr(code))
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if base != chr(code):
            table[code] = base
    return table


_FOLD = _fold_table()


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without diacritics, so that 'ben nghe' finds 'Bến Nghé'. Cached, and a
    translation table rather than per-character normalisation: a search folds every name."""
    return unicodedata.normalize("NFC", text).translate(_FOLD).casefold()


def _filtered(
    session: Session,
    campaign: Campaign,
    now: datetime,
    filters: UnitFilter,
    *,
    only: Sequence[int] | None = None,
) -> Select[Any]:
    query, table = status_rows(now, campaign.id, only=only)
    query = query.where(*_unit_conditions(session, campaign, filters, table.c.unit_id))
    if filters.status is not None:
        query = query.where(table.c.status == filters.status.value)
    return query


def _unit_conditions(
    session: Session, campaign: Campaign, filters: UnitFilter, unit_id: SQLCoreOperations[int]
) -> list[ColumnElement[bool]]:
    """The filters on who the unit is (group, sector, ward, name), over Unit and Requirement."""
    conditions = []
    if filters.requirement:
        conditions.append(col(Requirement.code) == filters.requirement)
    if filters.sector:
        conditions.append(col(Unit.sector) == filters.sector)
    if filters.ward:
        conditions.append(col(Unit.ward) == filters.ward)
    if filters.q and filters.q.strip():
        conditions.append(_name_matches(session, campaign, filters.q, unit_id))
    return conditions


def _name_matches(
    session: Session, campaign: Campaign, q: str, unit_id: SQLCoreOperations[int]
) -> ColumnElement[bool]:
    """unit_id IN (the matches), or NOT IN (the others) when that list is shorter. The ids
    are inlined: no limit on bound parameters however many units there are."""
    matching, others = _matching_units(session, campaign, q)
    if not matching:
        return false()
    if not others:
        return true()
    if len(matching) <= len(others):
        return unit_id.in_(bindparam("unit_ids", matching, expanding=True, literal_execute=True))
    return unit_id.not_in(bindparam("unit_ids", others, expanding=True, literal_execute=True))


def _matching_units(session: Session, campaign: Campaign, q: str) -> tuple[list[int], list[int]]:
    """Units of the campaign whose code, name or short name holds every word of `q` (and the
    others), ignoring case and diacritics: people often type Vietnamese without them on a
    phone. Matched in Python: SQLite's LIKE folds ASCII only; neither database drops marks."""
    words = fold(q).split()
    # On the connection: plain rows, without the ORM's per-row work (10,000 names).
    units = (
        session.connection()
        .execute(
            select(Unit.id, Unit.code, Unit.name, Unit.short_name).where(
                col(Unit.id).in_(
                    select(Assignment.unit_id)
                    .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
                    .where(Requirement.campaign_id == campaign.id)
                )
            )
        )
        .all()
    )
    matching: list[int] = []
    others: list[int] = []
    for unit_id, code, name, short_name in units:
        haystack = _haystack(code, name, short_name)
        (matching if all(map(haystack.__contains__, words)) else others).append(unit_id)
    return matching, others


@lru_cache(maxsize=65536)
def _haystack(code: str, name: str, short_name: str | None) -> str:
    return fold(f"{code} {name} {short_name or ''}")
