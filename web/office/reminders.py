"""The office's "send now" for a campaign's reminders, with the same preview as
`dondoc remind preview`: who would get what at this moment, who is skipped and why, and what
the outbox has done so far. The button plans the due steps into the outbox and dispatches a
capped batch; every step still goes out once only (the outbox's unique constraint)."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from dondoc.db import get_engine
from dondoc.dispatch import run_worker
from dondoc.outbox import counts
from dondoc.privacy import mask_contact
from dondoc.reminding import Plan, Skipped, plan_campaign
from dondoc.remindrun import dispatch_due, plan_and_enqueue
from dondoc.rules.reminders import SKIP_LABELS_VI, Skip
from dondoc.settings import get_settings
from models import Assignment, Campaign, Requirement, Unit
from notifications.registry import build_channels
from web.deps import DB, Now, User
from web.office.common import Csrf, FormUser, campaign_or_404, done, render

router = APIRouter()
PAGE = "/c/{code}/reminders"
log = logging.getLogger(__name__)
# Rows dispatched by one click. The dispatcher paces each channel (5 emails a second), so 100
# rows keep the request under half a minute; the scheduled flow sends the rest.
SEND_LIMIT = 100
# Rows listed per table: the page must stay readable on a phone for a campaign of any size.
SHOWN = 300
# Why a unit gets nothing now, the reasons the office can act on first.
REASONS_VI = {
    Skip.NO_CONTACT.value: SKIP_LABELS_VI[Skip.NO_CONTACT],
    Skip.CLOSED.value: SKIP_LABELS_VI[Skip.CLOSED],
    # The planner says "not due" too when the due step is already in the outbox: after a
    # click, the units just reminded land here, and the office should know why.
    Skip.NOT_DUE.value: "Chưa đến lượt nhắc hoặc lần nhắc này đã gửi",
    Skip.SUBMITTED.value: SKIP_LABELS_VI[Skip.SUBMITTED],
    Skip.EXEMPT.value: SKIP_LABELS_VI[Skip.EXEMPT],
}


@dataclass(frozen=True)
class PlannedRow:
    unit_code: str
    unit_name: str
    requirement: str
    step: str
    channel: str
    recipient: str  # masked: contact data is personal data
    at: datetime


@dataclass(frozen=True)
class SkippedGroup:
    reason: str
    label: str
    total: int
    units: list[tuple[str, str, str]]  # (code, name, requirement), the first SHOWN


def step_label(kind: str, step_key: str) -> str:
    """'before-3' → 'Nhắc trước hạn 3 ngày làm việc'; an escalation names the chair."""
    number = step_key.rpartition("-")[2]
    if kind == "before":
        return f"Nhắc trước hạn {number} ngày làm việc"
    if kind == "due_today":
        return "Hôm nay là hạn cuối"
    if kind == "overdue":
        return f"Quá hạn lần {number}"
    if kind == "escalation":
        return f"Báo cáo Chủ tịch (quá hạn lần {number})"
    return kind


@router.get(PAGE)
def reminders_page(request: Request, code: str, session: DB, now: Now, user: User) -> Response:
    campaign = campaign_or_404(session, code)
    outbox = counts(session, campaign.id or 0)
    plan = _preview(session, campaign, now)
    labels = _requirement_labels(session, campaign)
    context = {
        "campaign": campaign,
        "now": now,
        "planned": _planned_rows(session, plan, labels),
        "planned_total": len(plan.deliveries),
        "skipped": _skipped_groups(session, plan.skipped, labels),
        "outbox": outbox,
        "send_limit": SEND_LIMIT,
    }
    return render(request, "office/reminders.html", context, user=user)


@router.post(PAGE + "/send")
def send_now(
    request: Request, code: str, session: DB, now: Now, user: FormUser, _: Csrf
) -> Response:
    campaign = campaign_or_404(session, code)
    settings, engine = get_settings(), get_engine()
    added, _plan = plan_and_enqueue(engine, campaign.id or 0, now=now, settings=settings)
    worker = run_worker(f"office:{user.username}")
    sent = dispatch_due(engine, now=now, settings=settings, worker=worker, limit=SEND_LIMIT,
                        campaign_id=campaign.id)  # fmt: skip
    log.info("send-now %s by %s: %d queued, dispatched %s", code, user.username, added, dict(sent))
    text, kind = result_text(added, sent)
    return done(request, session, page_url(campaign), text, kind)


def page_url(campaign: Campaign) -> str:
    return f"/office/c/{quote(campaign.code)}/reminders"


def result_text(added: int, sent: Counter[str]) -> tuple[str, str]:
    """The flash line after a click, and its kind ('error' when someone should look)."""
    if added == 0 and sent.total() == 0:
        text = "Không có tin nhắn mới: mỗi lần nhắc đã xếp trước đó chỉ gửi một lần."
        return text, "ok"
    text = f"Đã xếp {added} tin nhắn, đã gửi {sent['sent']}, bỏ qua {sent['skipped']}"
    extra = [
        f"{sent[state]} {label}"
        for state, label in (
            ("pending", "sẽ thử lại sau"),
            ("failed", "không gửi được"),
            ("unknown", "chưa rõ kết quả — cần kiểm tra"),
        )
        if sent[state]
    ]
    text += "".join(f", {part}" for part in extra) + "."
    if sent.total() >= SEND_LIMIT:
        text += f" Mỗi lần bấm gửi tối đa {SEND_LIMIT} tin; phần còn lại gửi theo lịch tự động."
    return text, "error" if sent["failed"] or sent["unknown"] else "ok"


def _preview(session: Session, campaign: Campaign, now: datetime) -> Plan:
    settings = get_settings()
    zalo = "zalo" in build_channels(settings)
    try:
        return plan_campaign(session, campaign, now=now, settings=settings, zalo=zalo)
    finally:
        # A preview writes nothing (planning itself only reads; the rollback keeps it so).
        session.rollback()


def _planned_rows(session: Session, plan: Plan, labels: dict[str, str]) -> list[PlannedRow]:
    shown = plan.deliveries[:SHOWN]
    owners = _assignment_owners(session, [d.assignment_id or 0 for d in shown])
    rows = []
    for d in shown:
        unit_code, unit_name, requirement = owners[d.assignment_id or 0]
        row = PlannedRow(
            unit_code=unit_code,
            unit_name=unit_name,
            requirement=labels.get(requirement, requirement),
            step=step_label(d.kind, d.step_key),
            channel=d.channel,
            recipient=mask_contact(d.recipient),
            at=d.not_before,
        )
        rows.append(row)
    return rows


def _skipped_groups(
    session: Session, skipped: list[Skipped], labels: dict[str, str]
) -> list[SkippedGroup]:
    by_reason: dict[str, list[Skipped]] = defaultdict(list)
    for s in skipped:
        by_reason[s.reason].append(s)
    shown = [s for group in by_reason.values() for s in group[:SHOWN]]
    names = _unit_names(session, {s.unit_code for s in shown})
    order = [*REASONS_VI, *sorted(set(by_reason) - set(REASONS_VI))]
    return [
        SkippedGroup(
            reason,
            REASONS_VI.get(reason, reason),
            len(by_reason[reason]),
            [_skipped_unit(s, names, labels) for s in by_reason[reason][:SHOWN]],
        )
        for reason in order
        if by_reason.get(reason)
    ]


def _skipped_unit(
    s: Skipped, names: dict[str, str], labels: dict[str, str]
) -> tuple[str, str, str]:
    requirement = labels.get(s.requirement_code, s.requirement_code)
    return s.unit_code, names.get(s.unit_code, s.unit_code), requirement


def _assignment_owners(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str, str]]:
    """(unit code, unit name, requirement code) per assignment id."""
    rows = session.exec(
        select(Assignment.id, Unit.code, Unit.name, Requirement.code)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(col(Assignment.id).in_(set(ids)))
    )
    return {a or 0: (unit, name, req) for a, unit, name, req in rows}


def _unit_names(session: Session, codes: set[str]) -> dict[str, str]:
    rows = session.exec(select(Unit.code, Unit.name).where(col(Unit.code).in_(codes)))
    return dict(rows.all())


def _requirement_labels(session: Session, campaign: Campaign) -> dict[str, str]:
    rows = session.exec(select(Requirement).where(Requirement.campaign_id == campaign.id))
    return {r.code: r.group_label or r.title for r in rows}
