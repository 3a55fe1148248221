"""What every office page shares: rendering with the user, CSRF token and flash messages;
POST-redirect-GET; the CSRF check; lookups that turn a missing code into a 404."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, col, select

from dondoc.dashboard import fold
from models import Assignment, Campaign, OfficeUser, Requirement, Unit
from web.deps import DB, LoginRequiredError, current_user
from web.security import check_session_csrf, session_csrf_token

FLASH = "flash"
REVEAL = "reveal"  # a value shown once on the next page (a re-issued link)


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    user: OfficeUser | None = None,
    status_code: int = 200,
) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    page = {
        "user": user,
        "csrf_token": session_csrf_token(request),
        "messages": request.session.pop(FLASH, []),
        **context,
    }
    return templates.TemplateResponse(request, name, page, status_code=status_code)


def flash(request: Request, text: str, kind: str = "ok") -> None:
    request.session[FLASH] = [*request.session.get(FLASH, []), {"kind": kind, "text": text}]


def done(
    request: Request, session: Session, url: str, text: str | None = None, kind: str = "ok"
) -> RedirectResponse:
    """Commit, then redirect (303) to a page that shows the message.

    The commit happens here rather than when the request's session closes: that happens only
    after the response is sent, and the browser could load the next page before it."""
    session.commit()
    if text:
        flash(request, text, kind)
    return RedirectResponse(url, status_code=303)


def require_csrf(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> None:
    check_session_csrf(request, csrf_token)


def form_user(request: Request, session: DB) -> OfficeUser:
    """The logged-in user for a form POST; after logging in, go back to the page that held
    the form (its URL minus the action), not to a URL that only accepts POST."""
    try:
        return current_user(request, session)
    except LoginRequiredError as exc:
        raise LoginRequiredError(exc.next_url.rsplit("/", 1)[0] or "/office") from None


Csrf = Annotated[None, Depends(require_csrf)]
FormUser = Annotated[OfficeUser, Depends(form_user)]


def campaign_or_404(session: Session, code: str) -> Campaign:
    campaign = session.exec(select(Campaign).where(Campaign.code == code)).first()
    if campaign is None:
        raise HTTPException(status_code=404)
    return campaign


def unit_or_404(session: Session, code: str) -> Unit:
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise HTTPException(status_code=404)
    return unit


def assignment_or_404(
    session: Session, campaign: Campaign, unit: Unit, requirement_code: str | None = None
) -> tuple[Assignment, Requirement]:
    """The unit's assignment under the requirement named (under any one when None)."""
    query = (
        select(Assignment, Requirement)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(Requirement.campaign_id == campaign.id, Assignment.unit_id == unit.id)
    )
    if requirement_code is not None:
        query = query.where(Requirement.code == requirement_code)
    row = session.exec(query.order_by(col(Requirement.position))).first()
    if row is None:
        raise HTTPException(status_code=404)
    return row


def unit_url(campaign: Campaign, unit: Unit) -> str:
    return f"/office/c/{quote(campaign.code)}/u/{quote(unit.code)}"


def attachment(name: str) -> str:
    """Content-Disposition for a download: an ASCII fallback for old clients and the real
    (Vietnamese) name in RFC 5987 form."""
    ascii_name = "".join(
        c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in fold(name)
    )
    return f"attachment; filename=\"{ascii_name or 'tep'}\"; filename*=UTF-8''{quote(name)}"
