"""The office's extra alert channel: any Apprise URL (tgram://, json://, …) configured in
DONDOC_ALERT_URLS. One outbox row per URL; the row names its URL by a fingerprint and the
URL's privacy form, never by the URL itself (it holds the bot token or password).

Apprise traps avoided (../shared/reference/zalo-apprise.md): never `retry=`, a fresh Apprise
object per message (a reused one throttles)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import apprise

from dondoc.outbox import Outcome
from models import Delivery
from notifications.base import ChannelError

log = logging.getLogger(__name__)


class AlertUrlError(ValueError):
    """A configured URL Apprise does not understand (the message never shows the URL)."""


def _service(url: str) -> Any:
    service = apprise.Apprise.instantiate(url)
    if service is None:
        scheme = url.partition("://")[0] or "?"
        raise AlertUrlError(f"an alert URL with scheme {scheme!r} is not a valid Apprise URL")
    return service


def address(url: str) -> str:
    """What the outbox stores as the recipient: a fingerprint, then the masked URL."""
    fingerprint = hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"{fingerprint} {_service(url).url(privacy=True)}"[:254]


class AppriseChannel:
    name = "apprise"

    def __init__(self, urls: Iterable[str]) -> None:
        # Validated up front: a wrong URL stops the start with a clear error.
        self.urls = {address(url).split(" ", 1)[0]: url for url in urls}

    def send(self, delivery: Delivery, *, now: datetime) -> str | None:
        url = self.urls.get(delivery.recipient.split(" ", 1)[0])
        if url is None:  # removed from the settings since the row was planned
            raise ChannelError(Outcome.PERMANENT, "this alert URL is no longer configured")
        sender = apprise.Apprise()
        service = _service(url)
        sender.add(service)
        masked = service.url(privacy=True)
        if not sender.notify(title=delivery.subject or "", body=delivery.body or ""):
            log.warning("alert to %s failed", masked)
            raise ChannelError(Outcome.TRANSIENT, f"Apprise could not deliver to {masked}")
        log.info("alert %s sent to %s", delivery.id, masked)
        return None
