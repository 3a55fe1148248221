"""Zalo's answers, classified: one `ZaloError` whose `kind` tells the outbox what to do (its
names are the outbox's outcomes plus `invalid_token`), from the error codes in
../shared/reference/zalo-apprise.md, and the moments a deferral waits for: the night ban
(-133) ends at 06:00 local; a spent daily quota or balance waits for 08:00 local the next day
(the quota resets at midnight, 22:00-06:00 is banned anyway, and at 08:00 the office can act on
the alert)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Literal

from dondoc.rules.deadlines import VN_TZ

Kind = Literal["transient", "deferred", "permanent", "needs_person", "unknown", "invalid_token"]


class ZaloError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        kind: Kind,
        *,
        fallback_to_email: bool = False,
        alert_office: bool = False,
    ) -> None:
        super().__init__(f"Zalo {code}: {message}")
        self.code, self.message, self.kind = code, message, kind
        self.fallback_to_email = fallback_to_email
        self.alert_office = alert_office

    @property
    def permanent(self) -> bool:
        return self.kind in ("permanent", "needs_person", "unknown")

    def retry_at(self, now: datetime) -> datetime | None:
        """The next allowed moment for a deferred error; None: the outbox's backoff decides."""
        if self.kind != "deferred":
            return None
        return after_night_ban(now) if self.code == str(NIGHT_BAN) else next_quota_day(now)


NIGHT_BAN = -133
BAD_PHONE = -108
_CLASSES: tuple[tuple[frozenset[int], Kind, bool, bool], ...] = (
    # codes, kind, fallback_to_email, alert_office
    (frozenset({-124, -216, -220}), "invalid_token", False, False),
    (frozenset({-100, -32}), "transient", False, False),
    (frozenset({-144, -147, -115}), "deferred", False, True),
    (frozenset({NIGHT_BAN}), "deferred", False, False),
    (frozenset({BAD_PHONE}), "permanent", True, False),
    (
        frozenset({-109, -111, -112, -1121, -1122, -1123, -1124, -131, -132}),
        "permanent",
        False,
        True,
    ),
    (frozenset({-110, -114, -118, -119, -139, -140, -141}), "permanent", True, False),
    (
        frozenset({-101, -102, -103, -104, -105, -117, -125, -135, -136, -137, -145, -146}),
        "needs_person",
        False,
        True,
    ),
)


def error_for(code: int, message: str) -> ZaloError:
    """Classify an answer with a non-zero `error` (an unlisted code needs a person)."""
    for codes, kind, fallback, alert in _CLASSES:
        if code in codes:
            return ZaloError(
                str(code), message, kind, fallback_to_email=fallback, alert_office=alert
            )
    return ZaloError(str(code), f"unlisted code: {message}", "needs_person", alert_office=True)


NIGHT_STARTS, NIGHT_ENDS, QUOTA_RETRY = time(22), time(6), time(8)
CLOCK_SKEW_PAUSE = timedelta(minutes=5)


def in_night_ban(now: datetime) -> bool:
    local = now.astimezone(VN_TZ).time()
    return local >= NIGHT_STARTS or local < NIGHT_ENDS


def after_night_ban(now: datetime) -> datetime:
    """06:00 local after `now`; a -133 in daytime means the clocks disagree near an edge."""
    local = now.astimezone(VN_TZ)
    if not in_night_ban(now):
        return now + CLOCK_SKEW_PAUSE
    day = local.date() + timedelta(days=1 if local.time() >= NIGHT_STARTS else 0)
    return datetime.combine(day, NIGHT_ENDS, VN_TZ).astimezone(UTC)


def next_quota_day(now: datetime) -> datetime:
    """08:00 local on the day after `now`'s local day (the quota it hit was today's)."""
    day = now.astimezone(VN_TZ).date() + timedelta(days=1)
    return datetime.combine(day, QUOTA_RETRY, VN_TZ).astimezone(UTC)
