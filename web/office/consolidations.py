"""The campaign's consolidations: every version with its files, "consolidate now" per
requirement, and the acceptance that rolls a version up into the parent campaign."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, Response
from sqlmodel import Session, col, select

from dondoc.consolidation import ConsolidationError, files_of
from dondoc.consolidation_notice import KINDS_VI, REASONS_VI
from dondoc.rollup import (
    NoParentDutyError,
    OlderVersionError,
    Storage,
    accept,
    requirements_of,
    run_now,
)
from dondoc.settings import get_settings
from models import Campaign, Consolidation, ConsolidationFile, Requirement
from web.deps import DB, Now, User
from web.office.common import Csrf, FormUser, attachment, campaign_or_404, done, render

router = APIRouter()
MEDIA_TYPES = {
    "workbook": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "document": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "archive": "application/zip",
}


def page_url(campaign: Campaign) -> str:
    return f"/office/c/{campaign.code}/consolidations"


@router.get("/c/{code}/consolidations")
def consolidations(request: Request, code: str, session: DB, now: Now, user: User) -> Response:
    campaign = campaign_or_404(session, code)
    requirements = requirements_of(session, campaign, None)
    versions = _versions(session, [r.id or 0 for r in requirements])
    context = {
        "campaign": campaign,
        "requirements": requirements,
        "versions": versions,
        "files": {v.id: files_of(session, v.id or 0) for vs in versions.values() for v in vs},
        "reasons": REASONS_VI,
        "kinds": KINDS_VI,
        "now": now,
    }
    return render(request, "office/consolidations.html", context, user=user)


@router.post("/c/{code}/consolidations/run")
def consolidate_now(
    request: Request,
    code: str,
    session: DB,
    now: Now,
    user: FormUser,
    _: Csrf,
    requirement: Annotated[str, Form()] = "",
) -> Response:
    campaign = campaign_or_404(session, code)
    url = page_url(campaign)
    try:
        [req] = requirements_of(session, campaign, requirement)
    except ConsolidationError:
        return done(request, session, url, "Không tìm thấy yêu cầu báo cáo này.", "error")
    settings = get_settings()
    storage = Storage(settings.tz, settings.effective_storage_dir)
    row = run_now(session, campaign, req, now=now, by=user.username, storage=storage)
    return done(request, session, url, f"Đã có bản tổng hợp lần {row.version} cho {req.code}.")


@router.post("/consolidations/{consolidation_id}/accept")
def accept_version(
    request: Request, consolidation_id: int, session: DB, now: Now, user: FormUser, _: Csrf
) -> Response:
    row, campaign = _consolidation_or_404(session, consolidation_id)
    url = page_url(campaign)
    try:
        accepted = accept(session, consolidation_id, by=user.username, now=now)
    except ConsolidationError as exc:
        return done(request, session, url, _refusal_vi(exc, row), "error")
    text = f"Đã duyệt bản tổng hợp lần {accepted.version}."
    if accepted.rollup_submission_id:
        text += " Bản tổng hợp đã được gửi lên cấp trên như báo cáo của đơn vị."
    return done(request, session, url, text)


@router.get("/consolidations/{consolidation_id}/files/{kind}")
def download(consolidation_id: int, kind: str, session: DB, user: User) -> Response:
    _consolidation_or_404(session, consolidation_id)
    found = session.exec(
        select(ConsolidationFile).where(
            ConsolidationFile.consolidation_id == consolidation_id, ConsolidationFile.kind == kind
        )
    ).first()
    if found is None:
        raise HTTPException(status_code=404)
    path = get_settings().effective_storage_dir / found.storage_path
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(kind, "application/octet-stream"),
        headers={"content-disposition": attachment(found.name)},
    )


def _versions(session: Session, requirement_ids: list[int]) -> dict[int, list[Consolidation]]:
    grouped: dict[int, list[Consolidation]] = defaultdict(list)
    rows = session.exec(
        select(Consolidation)
        .where(col(Consolidation.requirement_id).in_(requirement_ids))
        .order_by(col(Consolidation.version).desc())
    )
    for row in rows:
        grouped[row.requirement_id].append(row)
    return grouped


def _consolidation_or_404(
    session: Session, consolidation_id: int
) -> tuple[Consolidation, Campaign]:
    row = session.get(Consolidation, consolidation_id)
    if row is None:
        raise HTTPException(status_code=404)
    requirement = session.get_one(Requirement, row.requirement_id)
    return row, session.get_one(Campaign, requirement.campaign_id)


def _refusal_vi(exc: ConsolidationError, row: Consolidation) -> str:
    if isinstance(exc, OlderVersionError):
        return f"Không thể duyệt lần {row.version}: một bản tổng hợp mới hơn đã được duyệt."
    if isinstance(exc, NoParentDutyError):
        return "Kế hoạch cấp trên không giao báo cáo cho đơn vị này, nên chưa gửi lên được."
    return "Không duyệt được bản tổng hợp này."
