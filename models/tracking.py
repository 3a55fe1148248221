"""Claims made by the scheduled flows, so that each side effect happens once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel


class RequirementCompletion(SQLModel, table=True):
    """A requirement seen complete (or cut off) in one state of its submissions.

    `state_key` is a digest of what counted (assignment, submission version, exemption); the
    unique constraint makes inserting the row the claim: two overlapping tracking runs that
    see the same state start one consolidation, and a later correction is a new state."""

    __tablename__ = "requirement_completion"
    __table_args__ = (
        UniqueConstraint("requirement_id", "state_key", name="uq_completion_state"),
        CheckConstraint("reason IN ('complete', 'cutoff', 'manual')", name="ck_completion_reason"),
    )

    id: int | None = Field(default=None, primary_key=True)
    requirement_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("requirement.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    state_key: str = Field(max_length=64)
    reason: str = Field(max_length=16)
    seen_at: datetime
    flow_run_id: str | None = Field(default=None, max_length=64)
