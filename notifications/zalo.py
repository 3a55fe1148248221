"""Zalo template messages by phone (ZNS, "ZBS Template Message") on httpx.

Facts in ../shared/reference/zalo-apprise.md. Decisions:
- One `ZaloError` whose `kind` tells the outbox what to do; its names are the outbox's outcomes
  plus `invalid_token`. `permanent` means "do not send this again automatically": bad data, a
  person must act, or the outcome is unknown (Zalo may have sent, and billed, the message).
- No retries here, except the one the token protocol requires: on an invalid-token answer,
  refresh once and send once more (Zalo refused the first request: nothing goes twice).
- What a message carries is checked before it leaves (zalodata: phone, tracking id, template
  values); every answer is classified (zaloerrors: codes, deferrals).
- Logs carry masked phones, tracking ids and codes; never tokens or template values."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

# The checks and the classification live in their own modules; `X as X`: they stay the
# client's names too (callers import them from here).
from notifications.zalodata import TRACKING, bad_data
from notifications.zalodata import ZaloTemplate as ZaloTemplate
from notifications.zalodata import mask_phone as mask_phone
from notifications.zalodata import normalise_phone as normalise_phone
from notifications.zalodata import shorten as shorten
from notifications.zalodata import template_data as template_data
from notifications.zalodata import tracking_id as tracking_id
from notifications.zaloerrors import BAD_PHONE as BAD_PHONE
from notifications.zaloerrors import NIGHT_BAN as NIGHT_BAN
from notifications.zaloerrors import Kind as Kind
from notifications.zaloerrors import ZaloError as ZaloError
from notifications.zaloerrors import after_night_ban as after_night_ban
from notifications.zaloerrors import error_for as error_for
from notifications.zaloerrors import in_night_ban as in_night_ban
from notifications.zaloerrors import next_quota_day as next_quota_day

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


QUOTA_LOW_ONE_IN = 10  # warn below 1/10 of the daily quota


def utc_now() -> datetime:
    return datetime.now(UTC)


class ZaloConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    app_id: str = Field(min_length=1, description="The Zalo app id.")
    secret_key: SecretStr = Field(description="The app's secret key (token refresh only).")
    base_url: str = Field(default="https://business.openapi.zalo.me", pattern=r"^https?://")
    oauth_url: str = Field(
        default="https://oauth.zaloapp.com/v4/oa/access_token", pattern=r"^https?://"
    )
    templates: dict[str, ZaloTemplate] = Field(
        default_factory=dict, description="Approved template per message kind (before, due…)."
    )
    timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds per HTTP call.")
    development: bool = Field(default=False, description="Deliver to the OA's admins only.")
    refresh_margin: timedelta = Field(
        default=timedelta(minutes=10), description="Refresh when less than this is left."
    )


@dataclass(frozen=True)
class TokenPair:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    version: int = 0  # the store's; a pair fresh from Zalo has none yet


class TokenStore(Protocol):
    def current(self) -> TokenPair: ...

    def refresh(self, stale: TokenPair, do_refresh: Callable[[str], TokenPair]) -> TokenPair:
        """Under a lock: if the stored pair is still `stale`, call `do_refresh` with its
        refresh token and persist the result before returning it; else return the stored
        pair (another worker refreshed). A needs_person failure marks the pair unusable."""
        ...


@dataclass(frozen=True)
class ZaloStatus:
    msg_id: str
    delivered: bool
    delivered_at: datetime | None


@dataclass(frozen=True)
class ZaloResult:
    msg_id: str
    sent_time: datetime | None
    quota_daily: int | None
    quota_remaining: int | None

    @property
    def quota_low(self) -> bool:
        """Under a tenth of the day's quota left: time to warn the office, which can top up
        or ask Zalo for more before the rest of the day's reminders wait for tomorrow."""
        return quota_low(self.quota_daily, self.quota_remaining)


def quota_low(daily: int | None, left: int | None) -> bool:
    """Under a tenth of the day's quota left (unknown counts as not low): the one rule for the
    office's alert and the digest."""
    return daily is not None and left is not None and left * QUOTA_LOW_ONE_IN < daily


class ZaloClient:
    """Template messages with the token protocol: the current token, refreshed ahead of
    expiry, and on an invalid-token answer one refresh and one more send, never more."""

    def __init__(
        self,
        config: ZaloConfig,
        tokens: TokenStore,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.config, self.tokens, self.clock = config, tokens, clock
        self._http = httpx.Client(timeout=config.timeout, transport=transport)

    def __enter__(self) -> ZaloClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send_template(
        self, *, phone: str, kind: str, data: Mapping[str, object], tracking_id: str
    ) -> ZaloResult:
        body = self.request_body(phone=phone, kind=kind, data=data, tracking_id=tracking_id)
        masked = mask_phone(body["phone"])
        try:
            result = self._send_with_token(body)
        except ZaloError as exc:
            log.warning(
                "Zalo %s (%s) to %s, tracking %s: %s",
                exc.kind,
                exc.code,
                masked,
                tracking_id,
                exc.message,
            )
            raise
        log.info(
            "Zalo sent to %s, tracking %s, msg %s, quota left %s",
            masked,
            tracking_id,
            result.msg_id,
            result.quota_remaining,
        )
        return result

    def request_body(
        self, *, phone: str, kind: str, data: Mapping[str, object], tracking_id: str
    ) -> dict[str, Any]:
        template = self.config.templates.get(kind)
        if template is None:
            message = f"no Zalo template configured for {kind!r}"
            raise ZaloError("no-template", message, "needs_person", alert_office=True)
        if not TRACKING.match(tracking_id):
            raise bad_data("tracking_id must be 1-48 letters or digits")
        body: dict[str, Any] = {
            "phone": normalise_phone(phone),
            "template_id": template.template_id,
            "template_data": template_data(template, data),
            "tracking_id": tracking_id,
        }
        if self.config.development:
            body["mode"] = "development"
        return body

    def refresh_call(self, refresh_token: str) -> TokenPair:
        """Spend the single-use refresh token; the new pair must be stored before use."""
        form = {"app_id": self.config.app_id, "grant_type": "refresh_token"}
        headers = {"secret_key": self.config.secret_key.get_secret_value()}
        try:
            response = self._http.post(
                self.config.oauth_url, data=form | {"refresh_token": refresh_token}, headers=headers
            )
        except httpx.TransportError as exc:  # no message left: retrying the send is safe
            raise ZaloError("refresh-failed", type(exc).__name__, "transient") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise ZaloError(f"http-{response.status_code}", "token refresh failed", "transient")
        return _token_pair(_json(response), self.clock())

    def _send_with_token(self, body: dict[str, Any]) -> ZaloResult:
        pair = self._usable_pair()
        try:
            return self._send(pair, body)
        except ZaloError as exc:
            if exc.kind != "invalid_token":
                raise
            log.info("Zalo refused the access token (%s): refreshing once", exc.code)
        return self._send(self.tokens.refresh(pair, self.refresh_call), body)

    def _usable_pair(self) -> TokenPair:
        pair, now = self.tokens.current(), self.clock()
        if pair.expires_at - now > self.config.refresh_margin:
            return pair
        try:
            return self.tokens.refresh(pair, self.refresh_call)
        except ZaloError as exc:
            if exc.kind != "transient" or pair.expires_at <= now:
                raise
            log.warning("Zalo early token refresh failed (%s); the current one is valid", exc.code)
            return pair

    def _send(self, pair: TokenPair, body: dict[str, Any]) -> ZaloResult:
        url = self.config.base_url.rstrip("/") + "/message/template"
        try:
            response = self._http.post(url, json=body, headers={"access_token": pair.access_token})
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ZaloError("connect", type(exc).__name__, "transient") from exc
        except httpx.TransportError as exc:
            message = f"{type(exc).__name__} after the request left: Zalo may have sent it"
            raise ZaloError("no-answer", message, "unknown") from exc
        return _send_result(response)

    def message_status(self, msg_id: str) -> ZaloStatus:
        """What Zalo knows of a message it accepted (GET /message/status): any answer means
        Zalo has it (and billed it); `delivered` says whether it reached the phone."""
        url = self.config.base_url.rstrip("/") + "/message/status"
        headers = {"access_token": self._usable_pair().access_token}
        try:
            response = self._http.get(url, params={"message_id": msg_id}, headers=headers)
        except httpx.TransportError as exc:  # a read changes nothing: ask again next time
            raise ZaloError("connect", type(exc).__name__, "transient") from exc
        data = _data(response)
        return ZaloStatus(msg_id, _int(data.get("status")) == 1, _moment(data.get("delivery_time")))


def _send_result(response: httpx.Response) -> ZaloResult:
    data = _data(response)
    quota = _dict(data.get("quota"))
    if not data.get("msg_id"):
        raise ZaloError("no-msg-id", "success without a msg_id: check before resending", "unknown")
    return ZaloResult(
        msg_id=str(data["msg_id"]),
        sent_time=_moment(data.get("sent_time")),
        quota_daily=_int(quota.get("dailyQuota")),
        quota_remaining=_int(quota.get("remainingQuota")),
    )


def _data(response: httpx.Response) -> dict[str, Any]:
    """The `data` of a successful answer; a ZaloError for anything else (errors come as HTTP
    200 with a non-zero `error`)."""
    status = response.status_code
    if status == 429 or status >= 500:
        raise ZaloError(f"http-{status}", "Zalo is busy or failing", "transient")
    if not response.is_success:
        raise ZaloError(
            f"http-{status}", "unexpected HTTP status", "needs_person", alert_office=True
        )
    payload = _json(response)
    code = _int(payload.get("error"))
    if code is None:
        raise ZaloError("bad-answer", "unreadable answer: Zalo may have sent it", "unknown")
    if code != 0:
        raise error_for(code, str(payload.get("message") or "")[:200])
    return _dict(payload.get("data"))


def _moment(value: object) -> datetime | None:
    milliseconds = _int(value)  # Zalo's times are epoch milliseconds, as strings
    return datetime.fromtimestamp(milliseconds / 1000, UTC) if milliseconds is not None else None


DEFAULT_LIFETIME = 3600  # seconds, when `expires_in` is missing or unreadable: refresh early


def _token_pair(payload: dict[str, Any], now: datetime) -> TokenPair:
    access, refresh = payload.get("access_token"), payload.get("refresh_token")
    if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
        code = str(payload.get("error") or "no-access-token")
        reason = payload.get("error_reason") or payload.get("error_name") or "no access_token"
        message = f"token refresh refused ({reason}): the app must be re-authorised"
        raise ZaloError(code, message, "needs_person", alert_office=True)
    seconds = _int(payload.get("expires_in"))
    if seconds is None or seconds <= 0:
        log.warning("Zalo token answer without a usable expires_in; assuming one hour")
        seconds = DEFAULT_LIFETIME
    return TokenPair(access, refresh, now + timedelta(seconds=seconds))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        return _dict(response.json())
    except ValueError:
        return {}


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int | None:
    """Zalo writes numbers as strings ("90000", "-124"); either is accepted."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None
