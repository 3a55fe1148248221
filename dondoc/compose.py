"""Writing a reminder at the moment it is sent. The planner puts into the outbox only who gets
which step (kind, step, channel, recipient); the text is written here, from the data as they
are when the dispatcher sends: the working days left counted at send time, the unit's current
upload link (issued now if it has none), the office's current contact. The row then keeps what
was sent (`dondoc.outbox.start_sending`).

Rows written when they were enqueued (receipts, return notices, fallbacks, the digest, alerts)
are sent as they are."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import Session

from dondoc.notices import REMINDER_KINDS, Contexts, addressee, earlier_overdue
from dondoc.settings import Settings
from models import Delivery
from notifications.messages import Kind, days_fit, render_email, zalo_params

# What a planned row's params hold before the text is written (the rest is template data).
PLANNED_PARAMS = frozenset({"template", "unit_code"})


class StaleStepError(Exception):
    """The row's message would say something false now (a reminder "before the deadline" on
    the deadline day, "today is the last day" after it): the step is stale, not sent."""


def is_written(row: Delivery) -> bool:
    if row.channel == "email":
        return row.body is not None
    return not set(row.params) <= PLANNED_PARAMS


class Composer:
    """The dispatcher's `compose` hook: the columns to write into a row as it is sent (empty
    when the row was written at enqueue). One per dispatch call: it caches what the rows of a
    requirement share."""

    def __init__(self, settings: Settings) -> None:
        self.contexts = Contexts(settings)

    def __call__(self, session: Session, row: Delivery, now: datetime) -> dict[str, Any]:
        if row.kind not in REMINDER_KINDS or row.assignment_id is None or is_written(row):
            return {}
        kind = Kind(row.kind)
        ctx = self.contexts.of(session, addressee(session, row.assignment_id), now=now)
        if not days_fit(kind, ctx.working_days_left):
            raise StaleStepError(f"stale step: {ctx.working_days_left} working days left")
        ctx = replace(ctx, overdue_count=earlier_overdue(row.step_key))
        if row.channel == "email":
            rendered = render_email(kind, ctx)
            return {"subject": rendered.subject, "body": rendered.body}
        return {"params": {**row.params, **zalo_params(kind, ctx)}}
