"""The outbox's Zalo channel: a template message per row, through ZaloClient, with Zalo's
error classes mapped onto the outbox's outcomes. The night ban is respected before calling.

A deferral (the OA's daily quota or balance spent, the night ban) holds for every later row
too: the channel remembers it until its retry moment and defers those rows without asking
Zalo again. A template's own daily limit (-147) holds for that template only. The quota each
answer states is kept in the database; under a tenth of it left, the send asks for an office
alert ("zalo-quota-low", once a day for the OA, dondoc.followups). The channel
lives for one dispatch call, so a restart forgets nothing that matters: the rows' not_before
already says when to try again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from dondoc.outbox import Outcome
from models import Delivery
from notifications.base import ChannelError, Sent
from notifications.zalo import (
    ZaloClient,
    ZaloError,
    ZaloResult,
    after_night_ban,
    in_night_ban,
    tracking_id,
)

log = logging.getLogger(__name__)

# Where the quota of each answer is kept (daily, remaining, when): DatabaseTokenStore.note_quota.
QuotaNote = Callable[[int | None, int | None, datetime], None]
OUTCOMES = {
    "transient": Outcome.TRANSIENT,
    "invalid_token": Outcome.TRANSIENT,  # the client already refreshed once and retried once
    "deferred": Outcome.DEFERRED,
    "permanent": Outcome.PERMANENT,
    "needs_person": Outcome.NEEDS_PERSON,
    "unknown": Outcome.UNKNOWN,
}
NOT_TEMPLATE_DATA = ("template", "unit_code")
TEMPLATE_DAILY_LIMIT = "-147"  # one template's quota: the others may still go
WHOLE_OA = ""  # the scope of every other deferral


def alert_of(exc: ZaloError) -> str | None:
    """Which office alert an error calls for: the account or token needs a person, the day's
    quota or balance is spent, or Zalo refused the template's data (the config must change)."""
    if exc.kind == "needs_person":
        return "zalo-account"
    if not exc.alert_office:
        return None
    return "zalo-quota" if exc.kind == "deferred" else "zalo-data"


def template_of(delivery: Delivery) -> str:
    return str(delivery.params.get("template", delivery.kind))


class ZaloChannel:
    name = "zalo"

    def __init__(self, client: ZaloClient, quota: QuotaNote | None = None) -> None:
        self.client, self.quota = client, quota
        self.low_alerted = False  # the OA's low-quota alert asked in this dispatch call
        self.pending: tuple[int | None, int | None, datetime, bool] | None = None  # not stored
        self.stored_low: bool | None = None  # whether the last quota stored was low
        # Scope (WHOLE_OA or a template kind) -> the deferral that holds it until its retry_at.
        self.held: dict[str, ChannelError] = {}

    def send(self, delivery: Delivery, *, now: datetime) -> str | Sent | None:
        if (deferral := self.deferral(delivery, now=now)) is not None:
            raise deferral
        template = template_of(delivery)
        data = self.template_data(template, delivery)
        try:
            result = self.client.send_template(
                phone=delivery.recipient,
                kind=template,
                data=data,
                # One id per outbox row, the same on every attempt: Zalo's delivery webhook
                # and the reconciliation of an unknown outcome find the row by it.
                tracking_id=tracking_id(delivery.id or 0),
            )
        except ZaloError as exc:
            error = ChannelError(OUTCOMES[exc.kind], str(exc), code=exc.code,
                                 retry_at=exc.retry_at(now),
                                 fallback_to_email=exc.fallback_to_email,
                                 alert=alert_of(exc))  # fmt: skip
            self._hold(error, template)
            raise error from exc
        return self._sent(result, now)

    def template_data(self, template: str, delivery: Delivery) -> dict[str, object]:
        """What dondoc wrote for the row, narrowed to the parameters the approved template
        has: an office's template may leave out, say, the link. A parameter the template needs
        but dondoc did not write is refused (zalodata.template_data)."""
        registered = self.client.config.templates.get(template)
        return {
            k: v
            for k, v in delivery.params.items()
            if k not in NOT_TEMPLATE_DATA and (registered is None or k in registered.params)
        }

    def _sent(self, result: ZaloResult, now: datetime) -> str | Sent:
        self._note(result, now)
        if not result.quota_low or self.low_alerted:
            return result.msg_id  # asked once per dispatch call; the outbox keeps it once a day
        self.low_alerted = True
        detail = f"còn {result.quota_remaining}/{result.quota_daily} tin trong ngày"
        return Sent(result.msg_id, alert="zalo-quota-low", detail=detail)

    def _note(self, result: ZaloResult, now: datetime) -> None:
        """Keep the quota Zalo stated, without a write per message: the call's first answer
        and any answer that crosses the low mark are stored at once (`dondoc zalo status`
        may be read meanwhile), the call's last one when the dispatch run ends (`release`)."""
        if self.quota is None or (result.quota_daily is None and result.quota_remaining is None):
            return
        self.pending = result.quota_daily, result.quota_remaining, now, result.quota_low
        if self.stored_low is None or self.stored_low != result.quota_low:
            self.release()

    def release(self) -> None:
        """The dispatch run is over (or the quota must be stored now)."""
        if self.quota is None or self.pending is None:
            return
        daily, remaining, at, low = self.pending
        self.pending, self.stored_low = None, low
        try:
            self.quota(daily, remaining, at)
        except Exception:  # the messages are out: a failed note must not make one "unknown"
            log.exception("Zalo quota (%s/%s at %s) could not be stored", remaining, daily, at)

    def _hold(self, error: ChannelError, template: str) -> None:
        if error.outcome is not Outcome.DEFERRED or error.retry_at is None:
            return
        scope = template if error.code == TEMPLATE_DAILY_LIMIT else WHOLE_OA
        self.held[scope] = error
        log.info("Zalo %s: no Zalo request for %s until %s", error.code,
                 f"template {template}" if scope else "any message", error.retry_at)  # fmt: skip

    def deferral(self, delivery: Delivery, *, now: datetime) -> ChannelError | None:
        """Why this row must wait without asking Zalo (the night ban, or a deferral still
        holding: a fresh error with its code, moment and alert), or None to ask."""
        if in_night_ban(now):  # Zalo refuses 22:00–06:00 (-133): do not even ask
            return ChannelError(Outcome.DEFERRED, "Zalo night ban", code="-133",
                                retry_at=after_night_ban(now))  # fmt: skip
        template = template_of(delivery)
        for scope in (WHOLE_OA, template):
            held = self.held.get(scope)
            if held is not None and held.retry_at is not None and now < held.retry_at:
                return ChannelError(Outcome.DEFERRED, f"{held} (not asked again)",
                                    code=held.code, retry_at=held.retry_at,
                                    alert=held.alert)  # fmt: skip
        return None
