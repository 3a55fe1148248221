"""The database schema (SQLModel tables). Alembic migrations live in models/migrations."""

from models.access import OfficeUser, UploadLink
from models.audit import AuditEvent
from models.campaigns import (
    BasisDocument,
    Campaign,
    DistributionEntry,
    IndicatorDefinition,
    Requirement,
    Target,
)
from models.consolidation import Consolidation, ConsolidationFile
from models.outbox import CalendarDay, Delivery, DeliveryAttempt, ZaloToken
from models.submissions import Assignment, Extension, IndicatorValue, Submission, SubmissionFile
from models.tracking import RequirementCompletion
from models.units import Contact, Unit

__all__ = [
    "Assignment",
    "AuditEvent",
    "BasisDocument",
    "CalendarDay",
    "Campaign",
    "Consolidation",
    "ConsolidationFile",
    "Contact",
    "Delivery",
    "DeliveryAttempt",
    "DistributionEntry",
    "Extension",
    "IndicatorDefinition",
    "IndicatorValue",
    "OfficeUser",
    "Requirement",
    "RequirementCompletion",
    "Submission",
    "SubmissionFile",
    "Target",
    "Unit",
    "UploadLink",
    "ZaloToken",
]
