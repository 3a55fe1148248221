"""The durable outbox: every message dondoc sends is a row first, claimed, then sent, then
recorded — never send-then-mark."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

# pending → claimed → sending → sent | pending (retry, deferred) | failed | skipped; a row left
# in `sending` by a crash becomes `unknown` (the provider may have it): never sent again blindly.
DELIVERY_STATES = (
    "pending", "claimed", "sending", "sent", "failed", "unknown", "skipped", "cancelled",
)  # fmt: skip
OA_ALERT_PREFIX = "oa-alert-"
OA_ALERT_WHERE = f"assignment_id IS NULL AND step_key LIKE '{OA_ALERT_PREFIX}%'"
OUTCOMES = ("sent", "transient", "deferred", "permanent", "needs_person", "unknown", "skipped")


class Delivery(SQLModel, table=True):
    """One message to one recipient on one channel for one step of one deadline version.

    The unique constraint is the "never twice" of reminders: planning the same step again (a
    retried flow, a second worker) inserts nothing. `not_before` is when it may go out (the next
    allowed moment: working day, send window, Zalo's night ban, a quota reset)."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint(
            "assignment_id",
            "step_key",
            "deadline_version",
            "channel",
            "recipient",
            name="uq_delivery_step",
        ),
        # Office messages (digests, alerts) have no assignment, and NULLs are never equal in a
        # unique constraint: they get their own partial unique index.
        Index(
            "uq_delivery_office_step",
            "campaign_id",
            "step_key",
            "channel",
            "recipient",
            unique=True,
            sqlite_where=text("assignment_id IS NULL"),
            postgresql_where=text("assignment_id IS NULL"),
        ),
        # Alerts about the deployment's Zalo OA (its quota, its account) are not a campaign's:
        # one a day per address whichever campaign's message noticed it (dondoc.followups).
        Index(
            "uq_delivery_oa_alert",
            "step_key",
            "channel",
            "recipient",
            unique=True,
            sqlite_where=text(OA_ALERT_WHERE),
            postgresql_where=text(OA_ALERT_WHERE),
        ),
        CheckConstraint(
            "state IN (" + ", ".join(f"'{s}'" for s in DELIVERY_STATES) + ")",
            name="ck_delivery_state",
        ),
        CheckConstraint("channel IN ('email', 'zalo', 'apprise')", name="ck_delivery_channel"),
        Index("ix_delivery_due", "state", "not_before"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(
        sa_column=Column(Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False)
    )
    # NULL for messages to the office (digests, alerts).
    assignment_id: int | None = Field(
        default=None,
        # No index of its own: uq_delivery_step's index starts with it.
        sa_column=Column(Integer, ForeignKey("assignment.id", ondelete="CASCADE")),
    )
    step_key: str = Field(max_length=64)  # "before-3", "due", "overdue-2", "receipt-17", …
    deadline_version: int = 0
    kind: str = Field(max_length=32)  # the template: before, due_today, overdue, escalation, …
    channel: str = Field(max_length=16)
    recipient: str = Field(max_length=254)  # email address or 84xxxxxxxxx; never logged in full
    contact_role: str | None = Field(default=None, max_length=16)
    subject: str | None = Field(default=None, max_length=255)
    body: str | None = Field(default=None, sa_column=Column(Text))
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    state: str = Field(default="pending", max_length=16)
    not_before: datetime
    attempts: int = 0
    created_at: datetime
    claimed_at: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    sent_at: datetime | None = None
    provider_id: str | None = Field(default=None, max_length=128)
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class DeliveryAttempt(SQLModel, table=True):
    """Every attempt, with what the provider said and how it was classified."""

    __tablename__ = "delivery_attempt"
    __table_args__ = (
        CheckConstraint(
            "outcome IN (" + ", ".join(f"'{o}'" for o in OUTCOMES) + ")",
            name="ck_attempt_outcome",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("delivery.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    at: datetime
    outcome: str = Field(max_length=16)
    provider_id: str | None = Field(default=None, max_length=128)
    error_code: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, sa_column=Column(Text))
    duration_ms: int | None = None


class ZaloToken(SQLModel, table=True):
    """The Zalo OA's token pair. The refresh token is single-use: a refresh commits the new
    pair under a row lock before anyone uses it; `version` tells a waiting worker that another
    one refreshed already."""

    __tablename__ = "zalo_token"

    id: int | None = Field(default=None, primary_key=True)
    app_id: str = Field(max_length=64, unique=True)
    access_token: str = Field(sa_column=Column(Text, nullable=False))
    refresh_token: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime
    version: int = 0
    updated_at: datetime
    needs_reauthorisation: bool = False
    # The OA's daily quota as Zalo's last successful answer gave it (quota.dailyQuota,
    # remainingQuota) and when: what `dondoc zalo status` shows; a low one alerts the office.
    quota_daily: int | None = None
    quota_remaining: int | None = None
    quota_at: datetime | None = None


class CalendarDay(SQLModel, table=True):
    """An override of the working calendar: the government's yearly swap days (a Saturday
    worked, a weekday off). It wins over the holidays package and the working week."""

    __tablename__ = "calendar_day"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(unique=True)
    working: bool
    note: str = Field(default="", max_length=255)
