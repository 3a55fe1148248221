"""Downloads of the status table and the figures (XLSX, CSV), with the page's filters."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response

from dondoc import exports
from dondoc.settings import get_settings
from models import Campaign
from web.deps import DB, Now, User
from web.office.campaigns import Filters
from web.office.common import attachment, campaign_or_404

router = APIRouter()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


@router.get("/c/{code}/export.xlsx")
def xlsx(code: str, session: DB, now: Now, user: User, filters: Filters) -> Response:
    campaign, tz = campaign_or_404(session, code), get_settings().tz
    sheets = [
        exports.status_sheet(session, campaign, now=now, tz=tz, filters=filters),
        exports.figures_sheet(session, campaign, now=now, tz=tz, filters=filters),
    ]
    return _download(exports.to_xlsx(sheets), XLSX, _name(campaign, "bao-cao", now, "xlsx"))


@router.get("/c/{code}/status.csv")
def status_csv(code: str, session: DB, now: Now, user: User, filters: Filters) -> Response:
    campaign, tz = campaign_or_404(session, code), get_settings().tz
    sheet = exports.status_sheet(session, campaign, now=now, tz=tz, filters=filters)
    return _download(exports.to_csv(sheet), CSV, _name(campaign, "trang-thai", now, "csv"))


@router.get("/c/{code}/figures.csv")
def figures_csv(code: str, session: DB, now: Now, user: User, filters: Filters) -> Response:
    campaign, tz = campaign_or_404(session, code), get_settings().tz
    sheet = exports.figures_sheet(session, campaign, now=now, tz=tz, filters=filters)
    return _download(exports.to_csv(sheet), CSV, _name(campaign, "so-lieu", now, "csv"))


def _name(campaign: Campaign, what: str, now: datetime, ext: str) -> str:
    return f"{campaign.code}-{what}-{now.astimezone(get_settings().tz):%Y%m%d-%H%M}.{ext}"


def _download(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type, headers={"content-disposition": attachment(name)})
