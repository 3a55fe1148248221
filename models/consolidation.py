"""Consolidated reports: one version per claimed state of a requirement, with its files.

A version is written once and never changed, except for the office's acceptance (and, once
accepted, the submission it became in the parent campaign)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

FILE_KINDS = ("workbook", "document", "archive")


class Consolidation(SQLModel, table=True):
    """`completion_id` is unique: a claimed state is drafted once, however often the flow runs
    for it (a retried run, an event delivered twice). `version` numbers the drafts of one
    requirement in order. `totals` is the serialised aggregate (dondoc.rules.aggregate_codec):
    what a parent campaign combines when this draft is rolled up."""

    __tablename__ = "consolidation"
    __table_args__ = (
        UniqueConstraint("requirement_id", "version", name="uq_consolidation_version"),
        UniqueConstraint("completion_id", name="uq_consolidation_completion"),
        UniqueConstraint("rollup_submission_id", name="uq_consolidation_rollup"),
        CheckConstraint("version >= 1", name="ck_consolidation_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    requirement_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("requirement.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    completion_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("requirement_completion.id", ondelete="CASCADE"), nullable=False
        )
    )
    version: int
    reason: str = Field(max_length=16)  # complete | cutoff | manual (the claim's)
    as_of: datetime  # what was received by then counts
    created_at: datetime
    flow_run_id: str | None = Field(default=None, max_length=64)
    expected: int
    submitted: int
    on_time: int
    late: int
    missing: int
    exempt: int
    # SHA-256 over the files' digests: two versions with the same content compare equal.
    content_sha256: str = Field(max_length=64)
    totals: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    accepted_at: datetime | None = None
    accepted_by: str | None = Field(default=None, max_length=120)
    rollup_submission_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("submission.id", ondelete="SET NULL")),
    )


class ConsolidationFile(SQLModel, table=True):
    __tablename__ = "consolidation_file"
    __table_args__ = (
        UniqueConstraint("consolidation_id", "kind", name="uq_consolidation_file_kind"),
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in FILE_KINDS) + ")",
            name="ck_consolidation_file_kind",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    consolidation_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("consolidation.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    kind: str = Field(max_length=16)
    name: str = Field(max_length=255)
    size: int
    sha256: str = Field(max_length=64)
    storage_path: str = Field(max_length=500)
