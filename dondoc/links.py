"""The units' secret upload links: issue, re-issue (revoking the old one), resolve.

token = HMAC-SHA256(server secret, random 128-bit nonce), URL-safe; the database keeps the
nonce and SHA-256(token). Looking a token up is a hash lookup (constant work, no timing hint
of how close a guess was); rebuilding a unit's link for a reminder needs the server secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlmodel import Session, col, select

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
