"""Office accounts: Argon2 password hashes (argon2-cffi), created from the CLI."""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from dondoc.errors import DondocError
from models import OfficeUser

_hasher = PasswordHasher()
MIN_PASSWORD = 10


def create_user(
    session: Session, *, username: str, display_name: str, password: str, now: datetime
) -> OfficeUser:
    if len(password) < MIN_PASSWORD:
        raise DondocError(f"the password needs at least {MIN_PASSWORD} characters")
    if session.exec(select(OfficeUser).where(OfficeUser.username == username)).first():
        raise DondocError(f"user {username!r} already exists")
    user = OfficeUser(
        username=username,
        display_name=display_name,
        password_hash=_hasher.hash(password),
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(
    session: Session, username: str, password: str, now: datetime
) -> OfficeUser | None:
    user = session.exec(select(OfficeUser).where(OfficeUser.username == username)).first()
    if user is None or not user.active:
        _hasher.hash(password)  # same work either way: no hint that the name does not exist
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    session.add(user)
    return user
