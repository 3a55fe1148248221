"""Who may do what: the units' secret upload links and the office's accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, text
from sqlmodel import Field, SQLModel


class UploadLink(SQLModel, table=True):
    """A unit's secret link for one campaign.

    The token is HMAC(server secret, nonce) with a 128-bit random nonce: the database alone
    (nonce + SHA-256 of the token) cannot rebuild a working link, yet the reminder flow, which
    has the secret, can put the same link in every message. Re-issuing revokes the old row."""

    __tablename__ = "upload_link"
    __table_args__ = (
        Index(
            "uq_upload_link_active",
            "campaign_id",
            "unit_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(
        sa_column=Column(Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False)
    )
    unit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False)
    )
    nonce: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    created_by: str = Field(max_length=120)
    revoked_at: datetime | None = None
    revoked_by: str | None = Field(default=None, max_length=120)


class OfficeUser(SQLModel, table=True):
    """An office account (văn phòng); passwords are Argon2 hashes."""

    __tablename__ = "office_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime
    last_login_at: datetime | None = None
