"""The list of campaigns and a campaign's page: progress per requirement and the unit table."""

from __future__ import annotations

import weakref
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from dondoc import dashboard
from dondoc.dashboard import Page, UnitFilter
from dondoc.labels import SECTOR_LABELS_VI
from dondoc.rules.status import STATUS_LABELS_VI, Status
from dondoc.unittable import UnitTable
from models import Campaign
from web.deps import DB, Now, User, office_session
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
    request: Request, code: str, now: Now, filters: Filters, page: Text = None
) -> Response:
    with office_session(request) as (session, user):
        campaign = campaign_or_404(session, code)
        number = int(page) if page and page.isdigit() else 1
        shown = dashboard.snapshot(session, campaign, now=now)
        rows = shown.table.page(filters, number)
        context = {
            "campaign": campaign,
            "now": now,
            "progress": shown.progress,
            "options": shown.options,
            "page": rows,
            "rows_html": rows_html(request, campaign, shown.table, rows, filters),
            "filters": filters,
            "filter_query": filter_query,
            "statuses": STATUS_LABELS_VI,
            "sectors": SECTOR_LABELS_VI,
        }
        return render(request, "office/campaign.html", context, user=user)


# Per snapshot (weakly: gone with it), its pages' rows as HTML: the same for every office user
# until the data or the statuses change, and most of a page's rendering time.
_ROWS_HTML: weakref.WeakKeyDictionary[UnitTable, dict[tuple[UnitFilter, int], Markup]]
_ROWS_HTML = weakref.WeakKeyDictionary()
PAGES_KEPT = 64


def rows_html(
    request: Request, campaign: Campaign, table: UnitTable, page: Page, filters: UnitFilter
) -> Markup:
    kept = _ROWS_HTML.setdefault(table, {})
    html = kept.get((filters, page.number))
    if html is None:
        templates: Jinja2Templates = request.app.state.templates
        rows = templates.env.get_template("office/campaign_rows.html")
        context = {"page": page, "base": f"/office/c/{quote(campaign.code)}"}
        html = Markup(rows.render(context, statuses=STATUS_LABELS_VI))
        if len(kept) >= PAGES_KEPT:
            kept.clear()
        kept[filters, page.number] = html
    return html
