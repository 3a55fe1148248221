"""A plan (kế hoạch) and what it requires: the campaign, its basis documents, distribution
list, requirements, indicator definitions and targets."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from models.enums import (
    Aggregation,
    CampaignStatus,
    DistributionRole,
    IndicatorType,
    check_in,
)


def _campaign_fk() -> Any:
    return Column(Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False)


def _unit_fk(nullable: bool = False) -> Any:
    return Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=nullable)


class Campaign(SQLModel, table=True):
    __tablename__ = "campaign"
    __table_args__ = (
        UniqueConstraint("issuer_unit_id", "doc_year", "doc_number", name="uq_campaign_docnumber"),
        CheckConstraint(check_in("status", CampaignStatus), name="ck_campaign_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    doc_number: str = Field(max_length=64)
    doc_year: int
    issuer_unit_id: int = Field(sa_column=_unit_fk())
    issuing_body: str | None = Field(default=None, max_length=255)
    issued_on: date
    place: str | None = Field(default=None, max_length=120)
    title: str = Field(sa_column=Column(Text, nullable=False))
    period_end: date | None = None
    data_cutoff: date | None = None
    status: str = Field(default=CampaignStatus.DRAFT.value, max_length=16)
    parent_campaign_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("campaign.id", ondelete="SET NULL"), index=True),
    )
    # The parent plan as the basis names it, kept so that it can be linked when it is loaded
    # after this one.
    parent_doc_number: str | None = Field(default=None, max_length=64)
    parent_issuer_unit_id: int | None = Field(default=None, sa_column=_unit_fk(nullable=True))
    signer_title: str | None = Field(default=None, max_length=255)
    signer_name: str | None = Field(default=None, max_length=120)
    milestones: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    source_file: str | None = Field(default=None, max_length=500)


class BasisDocument(SQLModel, table=True):
    """A căn cứ: a document the plan is based on; `implements` marks the parent plan."""

    __tablename__ = "basis_document"
    __table_args__ = (UniqueConstraint("campaign_id", "position", name="uq_basis_position"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(sa_column=_campaign_fk())
    position: int
    number: str = Field(max_length=64)
    doc_date: date | None = None
    issuer: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, sa_column=Column(Text))
    implements: bool = False


class DistributionEntry(SQLModel, table=True):
    """A line of the Nơi nhận list."""

    __tablename__ = "distribution_entry"
    __table_args__ = (
        UniqueConstraint("campaign_id", "position", name="uq_distribution_position"),
        CheckConstraint(check_in("role", DistributionRole), name="ck_distribution_role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(sa_column=_campaign_fk())
    position: int
    recipient: str = Field(max_length=255)
    role: str = Field(max_length=16)
    unit_id: int | None = Field(default=None, sa_column=_unit_fk(nullable=True))
    requirement_code: str | None = Field(default=None, max_length=64)


class Requirement(SQLModel, table=True):
    """What a group of units must submit, to whom, by when."""

    __tablename__ = "requirement"
    __table_args__ = (
        UniqueConstraint("campaign_id", "code", name="uq_requirement_code"),
        CheckConstraint(
            "hard_close_at IS NULL OR hard_close_at >= due_at", name="ck_requirement_close"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(sa_column=_campaign_fk())
    code: str = Field(max_length=64)
    position: int = 0
    title: str = Field(sa_column=Column(Text, nullable=False))
    group_label: str | None = Field(default=None, max_length=255)
    selector: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    submit_to_unit_id: int = Field(sa_column=_unit_fk())
    consolidator_unit_id: int = Field(sa_column=_unit_fk())
    due_text: str = Field(max_length=255)
    due_date: date
    due_time: time | None = None
    # The first instant at which a submission is late (end of the day, or the time given).
    due_at: datetime = Field(index=True)
    hard_close_at: datetime | None = None
    review_required: bool = True
    reminder_policy: str | None = Field(default=None, max_length=64)
    # The policy resolved when the plan was loaded (dondoc.rules.reminders.ReminderPolicy as
    # JSON), so that a later change of the built-in default does not move planned steps.
    reminder_spec: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    consolidation_cutoff_days: int | None = None
    report_up: bool = False
    indicator_keys: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    outline: list[str] = Field(default_factory=list, sa_column=Column(JSON))


class IndicatorDefinition(SQLModel, table=True):
    __tablename__ = "indicator_definition"
    __table_args__ = (
        UniqueConstraint("campaign_id", "key", name="uq_indicator_key"),
        CheckConstraint(check_in("type", IndicatorType), name="ck_indicator_type"),
        CheckConstraint(check_in("aggregate", Aggregation), name="ck_indicator_aggregate"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(sa_column=_campaign_fk())
    key: str = Field(max_length=64)
    position: int = 0
    label: str = Field(max_length=255)
    unit: str | None = Field(default=None, max_length=32)
    type: str = Field(max_length=16)
    min_value: Decimal | None = Field(default=None, sa_column=Column(Numeric(24, 4)))
    max_value: Decimal | None = Field(default=None, sa_column=Column(Numeric(24, 4)))
    max_of: str | None = Field(default=None, max_length=64)
    sectors: list[str] | None = Field(default=None, sa_column=Column(JSON))
    aggregate: str = Field(default=Aggregation.SUM.value, max_length=16)
    formula: str | None = Field(default=None, max_length=255)
    choices: list[str] | None = Field(default=None, sa_column=Column(JSON))
    count_choices: list[str] | None = Field(default=None, sa_column=Column(JSON))


class Target(SQLModel, table=True):
    """A chỉ tiêu of the plan: target value, direction, scope."""

    __tablename__ = "target"
    __table_args__ = (
        UniqueConstraint("campaign_id", "code", name="uq_target_code"),
        CheckConstraint("direction IN ('>=', '<=')", name="ck_target_direction"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(sa_column=_campaign_fk())
    code: str = Field(max_length=32)
    position: int = 0
    label: str = Field(sa_column=Column(Text, nullable=False))
    indicator: str = Field(max_length=255)
    value: Decimal = Field(sa_column=Column(Numeric(24, 4), nullable=False))
    unit: str | None = Field(default=None, max_length=32)
    direction: str = Field(default=">=", max_length=2)
    scope: str = Field(default="term", max_length=16)
    sectors: list[str] | None = Field(default=None, sa_column=Column(JSON))
