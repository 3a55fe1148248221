"""Vocabularies stored as short strings (checked in the schema, not native enums, so that
adding a value is a one-line migration on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from enum import StrEnum

from dondoc.rules.calendar import WorkWeek
from dondoc.rules.status import ReviewState, Status

__all__ = [
    "Aggregation",
    "CampaignStatus",
    "Channel",
    "ContactRole",
    "DistributionRole",
    "IndicatorType",
    "ReviewState",
    "Sector",
    "Status",
    "UnitKind",
    "WorkWeek",
    "check_in",
]


class UnitKind(StrEnum):
    FEDERATION = "federation"
    OFFICE = "office"
    DEPARTMENT = "department"
    INSPECTION_COMMITTEE = "inspection_committee"
    GRASSROOTS_UNION = "grassroots_union"
    PROFESSIONAL_UNION = "professional_union"  # nghiệp đoàn
    UNION_SECTION = "union_section"  # công đoàn bộ phận
    OTHER = "other"


class Sector(StrEnum):
    STATE = "state"
    NON_STATE = "non_state"
    FDI = "fdi"
    PUBLIC_SERVICE = "public_service"
    ADMINISTRATIVE = "administrative"


class ContactRole(StrEnum):
    CHAIR = "chair"
    VICE_CHAIR = "vice_chair"
    SECRETARY = "secretary"
    OFFICE = "office"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


class DistributionRole(StrEnum):
    REPORT_TO = "report_to"
    CARRY_OUT = "carry_out"
    INFORM = "inform"
    ARCHIVE = "archive"


class Channel(StrEnum):
    PORTAL = "portal"
    OFFICE = "office"  # paper, handed in
    EMAIL = "email"
    ZALO = "zalo"
    ROLLUP = "rollup"  # a child campaign's consolidation


class IndicatorType(StrEnum):
    INTEGER = "integer"
    AMOUNT_VND = "amount_vnd"
    PERCENT = "percent"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    DERIVED = "derived"


class Aggregation(StrEnum):
    SUM = "sum"
    RATIO = "ratio"
    COUNT_TRUE = "count_true"
    COUNT_CHOICE = "count_choice"
    NONE = "none"


def check_in(column: str, enum: type[StrEnum]) -> str:
    """SQL for a CHECK constraint limiting a column to an enum's values."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"
