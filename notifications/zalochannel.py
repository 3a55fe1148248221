"""The outbox's Zalo channel: a template message per row, through ZaloClient, with Zalo's
error classes mapped onto the outbox's outcomes. The night ban is respected before calling."""

from __future__ import annotations

from datetime import datetime

from dondoc.outbox import Outcome
from models import Delivery
from notifications.base import ChannelError
from notifications.zalo import ZaloClient, ZaloError, after_night_ban, in_night_ban, tracking_id

OUTCOMES = {
    "transient": Outcome.TRANSIENT,
    "invalid_token": Outcome.TRANSIENT,  # the client already refreshed once and retried once
    "deferred": Outcome.DEFERRED,
    "permanent": Outcome.PERMANENT,
    "needs_person": Outcome.NEEDS_PERSON,
    "unknown": Outcome.UNKNOWN,
}
NOT_TEMPLATE_DATA = ("template", "unit_code")


def alert_of(exc: ZaloError) -> str | None:
    """Which office alert an error calls for: the account or token needs a person, the day's
    quota or balance is spent, or Zalo refused the template's data (the config must change)."""
    if exc.kind == "needs_person":
        return "zalo-account"
    if not exc.alert_office:
        return None
    return "zalo-quota" if exc.kind == "deferred" else "zalo-data"


class ZaloChannel:
    name = "zalo"

    def __init__(self, client: ZaloClient) -> None:
        self.client = client

    def send(self, delivery: Delivery, *, now: datetime) -> str | None:
        if in_night_ban(now):  # Zalo refuses 22:00–06:00 (-133): do not even ask
            raise ChannelError(Outcome.DEFERRED, "Zalo night ban", code="-133",
                               retry_at=after_night_ban(now))  # fmt: skip
        data = {k: v for k, v in delivery.params.items() if k not in NOT_TEMPLATE_DATA}
        try:
            result = self.client.send_template(
                phone=delivery.recipient,
                kind=str(delivery.params.get("template", delivery.kind)),
                data=data,
                # One id per outbox row, the same on every attempt: Zalo's delivery webhook
                # and the reconciliation of an unknown outcome find the row by it.
                tracking_id=tracking_id(delivery.id or 0),
            )
        except ZaloError as exc:
            raise ChannelError(OUTCOMES[exc.kind], str(exc), code=exc.code,
                               retry_at=exc.retry_at(now),
                               fallback_to_email=exc.fallback_to_email,
                               alert=alert_of(exc)) from exc  # fmt: skip
        return result.msg_id
