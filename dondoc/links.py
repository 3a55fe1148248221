"""The units' secret upload links: issue, re-issue (revoking the old one), resolve.

token = HMAC-SHA256(server secret, random 128-bit nonce), URL-safe; the database keeps the
nonce and SHA-256(token). Looking a token up is a hash lookup (constant work, no timing hint
of how close a guess was); rebuilding a unit's link for a reminder needs the server secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from dondoc.db import insert_new, table
from models import UploadLink


def _token(secret: bytes, nonce: str) -> str:
    digest = hmac.new(secret, nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def active_link(session: Session, campaign_id: int, unit_id: int) -> UploadLink | None:
    return session.exec(
        select(UploadLink).where(
            UploadLink.campaign_id == campaign_id,
            UploadLink.unit_id == unit_id,
            col(UploadLink.revoked_at).is_(None),
        )
    ).first()


def issue_link(
    session: Session, *, campaign_id: int, unit_id: int, secret: bytes, by: str, now: datetime
) -> str:
    """Revoke the unit's current link (if any) and create a new one; return its token."""
    current = active_link(session, campaign_id, unit_id)
    if current is not None:
        current.revoked_at, current.revoked_by = now, by
        session.add(current)
        session.flush()
    nonce = secrets.token_hex(16)
    token = _token(secret, nonce)
    session.add(
        UploadLink(
            campaign_id=campaign_id,
            unit_id=unit_id,
            nonce=nonce,
            token_hash=token_hash(token),
            created_at=now,
            created_by=by,
        )
    )
    session.flush()
    return token


def token_for(
    session: Session, *, campaign_id: int, unit_id: int, secret: bytes, by: str, now: datetime
) -> str:
    """The unit's current token, issuing a first link if it has none."""
    link = active_link(session, campaign_id, unit_id)
    if link is None:
        return issue_link(
            session, campaign_id=campaign_id, unit_id=unit_id, secret=secret, by=by, now=now
        )
    return _token(secret, link.nonce)


def current_token(session: Session, *, campaign_id: int, unit_id: int, secret: bytes) -> str | None:
    """The unit's current token, or None if it has no active link: one column query, read
    anew for each message (a link re-issued a second ago is the one that goes out)."""
    nonce = session.connection().scalar(_ACTIVE_NONCE, {"campaign": campaign_id, "unit": unit_id})
    return None if nonce is None else _token(secret, nonce)


def ensure_links(
    session: Session, campaign_id: int, unit_ids: Iterable[int], *, secret: bytes, by: str,
    now: datetime,
) -> int:  # fmt: skip
    """Give each of these units a first link if it has none (a dispatch batch, before its
    messages are written); return how many were issued. Never two active links for a unit:
    a link another worker issues meanwhile wins (the unique index; ON CONFLICT DO NOTHING)."""
    wanted = set(unit_ids)
    have = session.connection().scalars(
        select_columns(_L.unit_id).where(
            _L.campaign_id == campaign_id, _L.unit_id.in_(wanted), _L.revoked_at.is_(None)
        )
    )
    missing = sorted(wanted - set(have))
    if not missing:
        return 0
    new = []
    for unit_id in missing:
        nonce = secrets.token_hex(16)
        new.append({"campaign_id": campaign_id, "unit_id": unit_id, "nonce": nonce,
                    "token_hash": token_hash(_token(secret, nonce)), "created_at": now,
                    "created_by": by})  # fmt: skip
    return insert_new(session.connection(), UploadLink, new)


_L = table(UploadLink).c
_ACTIVE_NONCE = select_columns(_L.nonce).where(
    _L.campaign_id == bindparam("campaign"),
    _L.unit_id == bindparam("unit"),
    _L.revoked_at.is_(None),
)


def resolve(session: Session, token: str) -> UploadLink | None:
    """The active link for a token, or None (unknown, malformed or revoked: all look alike)."""
    if not token or len(token) > 64:
        return None
    return session.exec(
        select(UploadLink).where(
            UploadLink.token_hash == token_hash(token), col(UploadLink.revoked_at).is_(None)
        )
    ).first()


def link_url(base_url: str, token: str) -> str:
    return f"{base_url}/u/{token}"
