"""CSRF tokens and rate limits.

CSRF: a random token kept in the signed session and echoed in every form (hidden field
`csrf_token`); a POST whose field does not match is refused. Units' pages have no session, so
their forms carry a token signed with the server secret and bound to the link instead.
Rate limits: a token bucket per key, in process memory (one web process per deployment; a
restart forgets the buckets, which only ever lets a client through sooner)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

SESSION_CSRF = "csrf"


def session_csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


def check_session_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get(SESSION_CSRF)
    if not expected or not submitted or not hmac.compare_digest(str(expected), submitted):
        raise HTTPException(status_code=403, detail="csrf")


def bound_csrf_token(secret: bytes, binding: str) -> str:
    """A form token for session-less pages, tied to one link (the token hash)."""
    return hmac.new(secret, f"csrf:{binding}".encode(), hashlib.sha256).hexdigest()


def check_bound_csrf(secret: bytes, binding: str, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(bound_csrf_token(secret, binding), submitted):
        raise HTTPException(status_code=403, detail="csrf")


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """`rate` requests per second on average, bursts up to `burst`."""

    rate: float
    burst: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: str, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key) or _Bucket(float(self.burst), moment)
            bucket.tokens = min(self.burst, bucket.tokens + (moment - bucket.updated) * self.rate)
            bucket.updated = moment
            self._buckets[key] = bucket
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True
