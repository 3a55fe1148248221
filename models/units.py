"""The organisation tree: units and their contacts. Generic on purpose: levels change
(the 2025 reform removed district federations), so no level is hard-coded."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.enums import ContactRole, Sector, UnitKind, WorkWeek, check_in


class Unit(SQLModel, table=True):
    __tablename__ = "unit"
    __table_args__ = (
        CheckConstraint(check_in("kind", UnitKind), name="ck_unit_kind"),
        CheckConstraint(check_in("calendar", WorkWeek), name="ck_unit_calendar"),
        CheckConstraint(f"sector IS NULL OR {check_in('sector', Sector)}", name="ck_unit_sector"),
        CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
            name="ck_unit_validity",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    short_name: str | None = Field(default=None, max_length=120)
    kind: str = Field(max_length=32)
    parent_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), index=True),
    )
    sector: str | None = Field(default=None, max_length=32)
    ward: str | None = Field(default=None, max_length=120)
    calendar: str = Field(default=WorkWeek.MON_FRI.value, max_length=16)
    valid_from: date | None = None
    valid_to: date | None = None

    @property
    def label(self) -> str:
        return self.short_name or self.name


class Contact(SQLModel, table=True):
    """One contact per role and unit. Personal data: never log email or phone in full."""

    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("unit_id", "role", name="uq_contact_unit_role"),
        CheckConstraint(check_in("role", ContactRole), name="ck_contact_role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False)
    )
    role: str = Field(max_length=16)
    name: str | None = Field(default=None, max_length=120)
    email: str | None = Field(default=None, max_length=254)
    zalo_phone: str | None = Field(default=None, max_length=16)  # 84 + 9 digits
    consent_email: bool = False
    consent_zalo: bool = False
