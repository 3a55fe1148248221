"""Writing a reminder at the moment it is sent. The planner puts into the outbox only who gets
which step (kind, step, channel, recipient); the text is written here, from the data as they
are when the dispatcher sends: the working days left counted at send time, the unit's current
upload link (issued now if it has none), the office's current contact. The row then keeps what
was sent (`dondoc.outbox.start_sending`).

A reminder is written anew at each attempt (a retry after a transient error or Zalo's quota can
be a day later: its days left too). Rows written when they were enqueued (receipts, return
notices, the digest, alerts) are sent as they are."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import Session

from dondoc.notices import REMINDER_KINDS, Contexts, addressee, earlier_overdue
from dondoc.settings import Settings
from models import Delivery
from notifications.messages import Kind, days_fit, render_email, zalo_params
from notifications.zalochannel import NOT_TEMPLATE_DATA  # what the planner put in params


class StaleStepError(Exception):
    """The row's message would say something false now (a reminder "before the deadline" on
    the deadline day, "today is the last day" after it): the step is stale, not sent."""


class Composer:
    """The dispatcher's `compose` hook: the columns to write into a reminder's row as it is
    sent (nothing for other rows). One per dispatch call: it caches what the rows of a
    requirement share."""

    def __init__(self, settings: Settings) -> None:
        self.contexts = Contexts(settings)

    def __call__(self, session: Session, row: Delivery, now: datetime) -> dict[str, Any]:
        if row.kind not in REMINDER_KINDS or row.assignment_id is None:
            return {}
        kind = Kind(row.kind)
        ctx = self.contexts.of(session, addressee(session, row.assignment_id), now=now)
        if not days_fit(kind, ctx.working_days_left):
            raise StaleStepError(f"stale step: {ctx.working_days_left} working days left")
        ctx = replace(ctx, overdue_count=earlier_overdue(row.step_key))
        if row.channel == "email":
            rendered = render_email(kind, ctx)
            return {"subject": rendered.subject, "body": rendered.body}
        planned = {k: row.params[k] for k in NOT_TEMPLATE_DATA if k in row.params}
        return {"params": planned | zalo_params(kind, ctx)}
