"""The office's decision on a message whose outcome is unknown (the dispatcher stopped while
sending, or the provider timed out after the request left) and that Zalo's webhook or status
endpoint could not settle: it did reach the recipient (`sent`), or it did not and goes out
again (`resend`). A conditional UPDATE from `unknown`: a decision is taken once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from dondoc.errors import DondocError
from dondoc.outbox import Outcome
from models import Assignment, AuditEvent, Delivery, DeliveryAttempt, Unit


class SettleError(DondocError):
    pass


@dataclass(frozen=True)
class UnknownRow:
    delivery_id: int
    unit_code: str | None  # None: a message to the office
    step_key: str
    channel: str
    recipient: str
    last_error: str | None
    unit_name: str | None = None
    kind: str = ""
    since: datetime | None = None  # when it was going out (its claim)


def unknown_rows(session: Session, campaign_id: int) -> list[UnknownRow]:
    rows = session.exec(
        select(Delivery, Unit.code, Unit.name)
        .outerjoin(Assignment, col(Assignment.id) == Delivery.assignment_id)
        .outerjoin(Unit, col(Unit.id) == Assignment.unit_id)
        .where(Delivery.campaign_id == campaign_id, Delivery.state == "unknown")
        .order_by(col(Delivery.id))
    ).all()
    return [
        UnknownRow(
            d.id or 0,
            code,
            d.step_key,
            d.channel,
            d.recipient,
            d.last_error,
            unit_name=name,
            kind=d.kind,
            since=d.claimed_at,
        )
        for d, code, name in rows
    ]


def settle(session: Session, delivery_id: int, *, sent: bool, by: str, now: datetime) -> str:
    """Return the row's new state (sent, or pending to go out again)."""
    # The claim is cleared: a dispatcher still sending it must not record over what follows.
    values: dict[str, object] = (
        {"state": "sent", "sent_at": now} if sent else {"state": "pending", "not_before": now}
    )
    values["claimed_by"] = None
    changed = session.execute(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id, col(Delivery.state) == "unknown")
        .values(**values)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise SettleError(f"delivery {delivery_id} is not waiting for a decision (not unknown)")
    decision = "confirmed sent" if sent else "to be sent again"
    session.add(
        DeliveryAttempt(
            delivery_id=delivery_id,
            at=now,
            outcome=(Outcome.SENT if sent else Outcome.TRANSIENT).value,
            error=f"{decision} by {by}",
        )
    )
    row = session.get_one(Delivery, delivery_id)
    assignment = session.get(Assignment, row.assignment_id) if row.assignment_id else None
    session.add(AuditEvent(at=now, actor=by, action="delivery.settled",
                           campaign_id=row.campaign_id,
                           unit_id=assignment.unit_id if assignment else None,
                           details={"delivery": delivery_id, "sent": sent,
                                    "channel": row.channel}))  # fmt: skip
    return str(values["state"])
