"""Office accounts: Argon2 password hashes (argon2-cffi), created from the CLI."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

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


def ensure_demo_user(session: Session, *, username: str, var_dir: Path, now: datetime) -> str:
    """The local demo account: created once, its random password kept (mode 0600) under var/
    so that `make run` can print the login again on every start."""
    path = var_dir / "office-login.txt"
    exists = session.exec(select(OfficeUser).where(OfficeUser.username == username)).first()
    if exists and path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    if exists:
        exists.password_hash = _hasher.hash(password)
        session.add(exists)
    else:
        create_user(
            session, username=username, display_name="Văn phòng", password=password, now=now
        )
    var_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password
