"""The office's decision on a message whose outcome is unknown (dondoc.settle): it reached the
recipient, or it goes out again. Buttons on the unit page and on the campaign's list of such
messages; a POST with the session's CSRF token, taken once, answered by a redirect."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from dondoc.labels import CHANNEL_LABELS_VI
from dondoc.privacy import mask_contact
from dondoc.settle import SettleError, settle, unknown_rows
from models import Assignment, Campaign, Delivery, Unit
from web.deps import DB, Now, User
from web.office.common import Csrf, FormUser, campaign_or_404, done, render, unit_or_404, unit_url
from web.templating import DELIVERY_STATES_VI, STEP_LABELS_VI

router = APIRouter()
Field = Annotated[str, Form()]
DECISIONS = {"sent": True, "resend": False}


def list_url(campaign: Campaign) -> str:
    return f"/office/c/{quote(campaign.code)}/unknown"


@router.get("/c/{code}/unknown")
def unknown_page(request: Request, code: str, session: DB, user: User) -> Response:
    campaign = campaign_or_404(session, code)
    context = {"campaign": campaign, "rows": unknown_rows(session, campaign.id or 0)}
    return render(request, "office/unknown.html", context, user=user)


class Decision:
    """One decision as posted (logged in, with the CSRF token), ready to take."""

    def __init__(
        self,
        request: Request,
        session: DB,
        now: Now,
        user: FormUser,
        _: Csrf,
        delivery_id: Field = "",
        decision: Field = "",
    ) -> None:
        self.request, self.session, self.now, self.by = request, session, now, user.username
        self.delivery_id, self.decision = delivery_id, decision

    def take(self, campaign: Campaign, unit: Unit | None, url: str) -> Response:
        """Settle the row (of this unit's when given) and go back to `url` with a message."""
        request, session = self.request, self.session
        row = _row(session, campaign, unit, self.delivery_id)
        if row is None or self.decision not in DECISIONS:
            return done(request, session, url, "Không tìm thấy tin nhắn này.", "error")
        sent = DECISIONS[self.decision]
        try:
            settle(session, row.id or 0, sent=sent, by=self.by, now=self.now)
        except SettleError:
            session.refresh(row)
            state = DELIVERY_STATES_VI.get(row.state, row.state)
            text = f"{_what(row)} đã được xử lý trước đó (hiện: {state}). Không thay đổi gì."
            return done(request, session, url, text, "error")
        if sent:
            text = f"Đã ghi nhận: {_what(row, lower=True)} đã đến người nhận; sẽ không gửi lại."
        else:
            text = f"{_what(row)} sẽ được gửi lại trong lượt gửi tin tiếp theo."
        return done(request, session, url, text)


Posted = Annotated[Decision, Depends()]


@router.post("/c/{code}/unknown/settle")
def settle_from_list(code: str, decision: Posted) -> Response:
    campaign = campaign_or_404(decision.session, code)
    return decision.take(campaign, None, list_url(campaign))


@router.post("/c/{code}/u/{unit_code}/settle")
def settle_on_unit_page(code: str, unit_code: str, decision: Posted) -> Response:
    session = decision.session
    campaign, unit = campaign_or_404(session, code), unit_or_404(session, unit_code)
    return decision.take(campaign, unit, unit_url(campaign, unit))


def _what(row: Delivery, *, lower: bool = False) -> str:
    """'Tin nhắn "Nhắc trước hạn" qua Zalo tới 84900***101'."""
    step = STEP_LABELS_VI.get(row.kind, row.kind)
    channel = CHANNEL_LABELS_VI.get(row.channel, row.channel)
    noun = "tin nhắn" if lower else "Tin nhắn"
    return f"{noun} “{step}” qua {channel} tới {mask_contact(row.recipient)}"


def _row(session: Session, campaign: Campaign, unit: Unit | None, raw_id: str) -> Delivery | None:
    """The campaign's message (to this unit's assignments when given) named by the form."""
    if not raw_id.isdigit() or len(raw_id) > 9:  # beyond any id, and PostgreSQL's integer
        return None
    row = session.get(Delivery, int(raw_id))
    if row is None or row.campaign_id != campaign.id:
        return None
    if unit is None:
        return row
    assignment = session.get(Assignment, row.assignment_id) if row.assignment_id else None
    return row if assignment is not None and assignment.unit_id == unit.id else None
