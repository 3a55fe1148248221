"""Who must submit (assignments), deadline changes (extensions), and what came in
(versioned submissions with their files and figures)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from models.enums import Channel, ReviewState, check_in


class Assignment(SQLModel, table=True):
    """One unit's duty under one requirement. `deadline_version` counts extensions, so that
    reminder steps for a new deadline are new steps."""

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("requirement_id", "unit_id", name="uq_assignment_unit"),
        CheckConstraint("deadline_version >= 0", name="ck_assignment_deadline_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    requirement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("requirement.id", ondelete="CASCADE"), nullable=False)
    )
    unit_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    exempt: bool = False
    exempt_reason: str | None = Field(default=None, sa_column=Column(Text))
    exempted_by: str | None = Field(default=None, max_length=120)
    exempted_at: datetime | None = None
    extended_due_at: datetime | None = None
    deadline_version: int = 0


class Extension(SQLModel, table=True):
    """A granted extension (gia hạn); the latest version is the assignment's deadline."""

    __tablename__ = "extension"
    __table_args__ = (UniqueConstraint("assignment_id", "version", name="uq_extension_version"),)

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("assignment.id", ondelete="CASCADE"), nullable=False)
    )
    version: int
    due_at: datetime
    due_text: str = Field(max_length=255)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    granted_by: str = Field(max_length=120)
    granted_at: datetime


class Submission(SQLModel, table=True):
    """One version of a unit's report. A resubmission is a new row, never an overwrite."""

    __tablename__ = "submission"
    __table_args__ = (
        UniqueConstraint("assignment_id", "version", name="uq_submission_version"),
        UniqueConstraint("assignment_id", "source_ref", name="uq_submission_source"),
        CheckConstraint(check_in("channel", Channel), name="ck_submission_channel"),
        CheckConstraint(check_in("review_state", ReviewState), name="ck_submission_review"),
        CheckConstraint("version >= 1", name="ck_submission_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("assignment.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    version: int
    received_at: datetime
    channel: str = Field(max_length=16)
    recorded_by: str | None = Field(default=None, max_length=120)
    note: str | None = Field(default=None, sa_column=Column(Text))
    review_state: str = Field(default=ReviewState.RECEIVED.value, max_length=16)
    reviewed_at: datetime | None = None
    reviewed_by: str | None = Field(default=None, max_length=120)
    return_reason: str | None = Field(default=None, sa_column=Column(Text))
    # A retried POST carries the same key: the unique constraint makes it a no-op.
    idempotency_key: str | None = Field(default=None, max_length=64, unique=True)
    # Where an automatic intake found it (a watched file's hash, a child consolidation):
    # unique per assignment so that the same source is recorded once.
    source_ref: str | None = Field(default=None, max_length=128)


class SubmissionFile(SQLModel, table=True):
    __tablename__ = "submission_file"
    __table_args__ = (CheckConstraint("size >= 0", name="ck_submission_file_size"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("submission.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    name: str = Field(max_length=255)
    size: int
    sha256: str = Field(max_length=64)
    storage_path: str = Field(max_length=500)
    content_type: str | None = Field(default=None, max_length=120)


class IndicatorValue(SQLModel, table=True):
    """A figure reported in a submission: numbers in num_value, choices in text_value."""

    __tablename__ = "indicator_value"
    __table_args__ = (UniqueConstraint("submission_id", "key", name="uq_indicator_value_key"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(
        sa_column=Column(Integer, ForeignKey("submission.id", ondelete="CASCADE"), nullable=False)
    )
    key: str = Field(max_length=64)
    num_value: Decimal | None = Field(default=None, sa_column=Column(Numeric(24, 4)))
    text_value: str | None = Field(default=None, max_length=255)
