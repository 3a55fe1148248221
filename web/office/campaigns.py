"""The list of campaigns and a campaign's page: progress per requirement and the unit table."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dondoc import dashboard
from dondoc.dashboard import UnitFilter
from dondoc.labels import SECTOR_LABELS_VI
from dondoc.rules.status import STATUS_LABELS_VI, Status
from web.deps import DB, Now, User
from web.office.common import campaign_or_404, render

router = APIRouter()
Text = Annotated[str | None, Query()]


async def unit_filter(  # async: no trip through the thread pool
    status: Text = None,
    req: Text = None,
    sector: Text = None,
    ward: Text = None,
    q: Text = None,
) -> UnitFilter:
    """Filters from the query string; an unknown status is no filter rather than an error."""
    chosen = status if status in {s.value for s in Status} else None
    return UnitFilter(
        status=Status(chosen) if chosen else None,
        requirement=req or None,
        sector=sector or None,
        ward=ward or None,
        q=(q or "").strip()[:100] or None,
    )


Filters = Annotated[UnitFilter, Depends(unit_filter)]


def filter_query(filters: UnitFilter, **extra: str | int) -> str:
    params = {
        "status": filters.status.value if filters.status else None,
        "req": filters.requirement,
        "sector": filters.sector,
        "ward": filters.ward,
        "q": filters.q,
        **extra,
    }
    return urlencode({k: v for k, v in params.items() if v})


@router.get("")
def campaigns(request: Request, session: DB, now: Now, user: User) -> Response:
    overview = dashboard.campaign_overview(session, now=now)
    return render(request, "office/campaigns.html", {"overview": overview, "now": now}, user=user)


@router.get("/c/{code}")
def campaign_page(
    request: Request,
    code: str,
    session: DB,
    now: Now,
    user: User,
    filters: Filters,
    page: Text = None,
) -> Response:
    campaign = campaign_or_404(session, code)
    number = int(page) if page and page.isdigit() else 1
    shown = dashboard.snapshot(session, campaign, now=now)
    context = {
        "campaign": campaign,
        "now": now,
        "progress": shown.progress,
        "options": shown.options,
        "page": shown.table.page(filters, number),
        "filters": filters,
        "filter_query": filter_query,
        "statuses": STATUS_LABELS_VI,
        "sectors": SECTOR_LABELS_VI,
    }
    return render(request, "office/campaign.html", context, user=user)
