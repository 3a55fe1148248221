"""Writing a reminder at the moment it is sent. The planner puts into the outbox only who gets
which step (kind, step, channel, recipient); the text is written here, from the data as they
are when the dispatcher sends: the working days left counted at send time, the unit's current
upload link (issued now if it has none), the office's current contact. The row then keeps what
was sent (`dondoc.outbox.start_sending`).

A reminder is written anew at each attempt (a retry after a transient error or Zalo's quota can
be a day later: its days left too). Rows written when they were enqueued (receipts, return
notices, the digest, alerts) are sent as they are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import Session

from dondoc.links import current_token, ensure_links
from dondoc.notices import (
    REMINDER_KINDS,
    Addressee,
    Contexts,
    addressee,
    addressees,
    earlier_overdue,
)
from dondoc.reminding import ACTOR
from dondoc.settings import Settings
from models import Delivery
from notifications.messages import Kind, MessageContext, days_fit, render_email, zalo_params
from notifications.zalochannel import NOT_TEMPLATE_DATA  # what the planner put in params


class StaleStepError(Exception):
    """The row's message would say something false now (a reminder "before the deadline" on
    the deadline day, "today is the last day" after it): the step is stale, not sent."""


class Composer:
    """The dispatcher's `compose` hook: the columns to write into a reminder's row as it is
    sent (nothing for other rows). One per dispatch call: `prefetch` reads what a claimed
    batch's rows need in a few queries (their units, requirements, campaigns; a first link for
    units that have none), so that writing each message reads only the unit's current link."""

    def __init__(self, settings: Settings) -> None:
        self.contexts = Contexts(settings)
        self.secret = settings.secret()
        self.addressees: dict[int, Addressee] = {}

    def prefetch(self, session: Session, rows: Sequence[Delivery], now: datetime) -> None:
        wanted = {r.assignment_id for r in rows if _reminder(r)} - self.addressees.keys()
        for found in addressees(session, wanted):
            self.addressees[found.assignment.id or 0] = found
        units: dict[int, set[int]] = {}
        for assignment_id in wanted:
            to = self.addressees.get(assignment_id or 0)
            if to is not None:
                units.setdefault(to.campaign.id or 0, set()).add(to.unit.id or 0)
        for campaign_id, unit_ids in units.items():
            ensure_links(session, campaign_id, unit_ids, secret=self.secret, by=ACTOR, now=now)

    def __call__(self, session: Session, row: Delivery, now: datetime) -> dict[str, Any]:
        if not _reminder(row) or row.assignment_id is None:
            return {}
        kind = Kind(row.kind)
        ctx = self.context(session, row.assignment_id, now)
        if not days_fit(kind, ctx.working_days_left):
            raise StaleStepError(f"stale step: {ctx.working_days_left} working days left")
        ctx = replace(ctx, overdue_count=earlier_overdue(row.step_key))
        if row.channel == "email":
            rendered = render_email(kind, ctx)
            return {"subject": rendered.subject, "body": rendered.body}
        planned = {k: row.params[k] for k in NOT_TEMPLATE_DATA if k in row.params}
        return {"params": planned | zalo_params(kind, ctx)}

    def context(self, session: Session, assignment_id: int, now: datetime) -> MessageContext:
        # What the batch read is current enough: the dispatcher's re-check, just before, skips
        # a row whose deadline changed since (a new deadline version).
        to = self.addressees.get(assignment_id) or addressee(session, assignment_id)
        token = current_token(session, campaign_id=to.campaign.id or 0, unit_id=to.unit.id or 0,
                              secret=self.secret)  # fmt: skip
        return self.contexts.of(session, to, now=now, token=token)


def _reminder(row: Delivery) -> bool:
    return row.kind in REMINDER_KINDS and row.assignment_id is not None
