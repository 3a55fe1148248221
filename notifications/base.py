"""What every channel is: a name, a `send` that returns the provider's message id (or a `Sent`
carrying an alert too), and one error type saying how the outbox should treat a failure.
Channels never retry on their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dondoc.outbox import Outcome
from models import Delivery


@dataclass(frozen=True)
class Sent:
    """A send that went through but asks for more than its message id: an office alert
    (e.g. "zalo-quota-low") with its detail, already free of personal data."""

    provider_id: str | None
    alert: str | None = None
    detail: str | None = None


class ChannelError(Exception):
    """A failed send. `outcome` tells the outbox what to do: TRANSIENT (retry with backoff),
    DEFERRED (retry at `retry_at`), PERMANENT (give up; maybe fall back), NEEDS_PERSON (give
    up and alert the office), UNKNOWN (the request may have arrived: never resend blindly)."""

    def __init__(
        self,
        outcome: Outcome,
        message: str,
        *,
        code: str | None = None,
        retry_at: datetime | None = None,
        fallback_to_email: bool = False,
        alert: str | None = None,
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.code = code
        self.retry_at = retry_at
        self.fallback_to_email = fallback_to_email
        self.alert = alert  # the kind of office alert it calls for ("zalo-quota"…), if any

    @property
    def permanent(self) -> bool:
        return self.outcome in (Outcome.PERMANENT, Outcome.NEEDS_PERSON)


class Channel(Protocol):
    name: str

    def send(self, delivery: Delivery, *, now: datetime) -> str | Sent | None:
        """Deliver one outbox row; return the provider's message id (if it gives one), or a
        `Sent` when the success also calls for an office alert."""
        ...
