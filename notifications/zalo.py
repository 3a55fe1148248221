"""Zalo template messages by phone (ZNS, "ZBS Template Message") on httpx.

Facts in ../shared/reference/zalo-apprise.md. Decisions:
- One `ZaloError` whose `kind` tells the outbox what to do; its names are the outbox's outcomes
  plus `invalid_token`. `permanent` means "do not send this again automatically": bad data, a
  person must act, or the outcome is unknown (Zalo may have sent, and billed, the message).
- No retries here, except the one the token protocol requires: on an invalid-token answer,
  refresh once and send once more (Zalo refused the first request: nothing goes twice).
- Template values are NFC-normalised and measured in code points. Parameters a template lists in
  `shorten` (names) are cut at a word boundary and end with "…"; any other value over its
  limit is refused, since a cut date, code or link would mislead.
- Deferrals: the night ban (-133) ends at 06:00 local; a spent daily quota or balance waits for
  08:00 local the next day (the quota resets at midnight, 22:00-06:00 is banned anyway, and at
  08:00 the office can act on the alert).
- Logs carry masked phones, tracking ids and codes; never tokens or template values."""

from __future__ import annotations

import contextlib
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from dondoc.plans.fields import normalize_phone
from dondoc.rules.deadlines import VN_TZ

log = logging.getLogger(__name__)

Kind = Literal["transient", "deferred", "permanent", "needs_person", "unknown", "invalid_token"]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ZaloTemplate(BaseModel):
    """An approved template: its id, each parameter's registered maximum length, and the
    parameters (names) that may be shortened with "…" instead of refused."""

    model_config = ConfigDict(frozen=True)

    template_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9]+$")
    params: dict[str, int] = Field(min_length=1)
    shorten: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _consistent(self) -> ZaloTemplate:
        if unknown := self.shorten - self.params.keys():
            raise ValueError(f"shorten names unknown parameters: {sorted(unknown)}")
        if any(limit < 2 for limit in self.params.values()):
            raise ValueError("every parameter's maximum length must be at least 2")
        return self


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


def mask_phone(phone: str) -> str:
    """'84912345678' -> '84912***678' for logs and errors (personal data)."""
    digits = re.sub(r"\D", "", phone)
    return f"{digits[:5]}***{digits[-3:]}" if len(digits) >= 9 else "***"


def normalise_phone(phone: str) -> str:
    """'0912 345 678' / '+84 912.345.678' -> '84912345678'."""
    with contextlib.suppress(ValueError):  # its message holds the whole number: not kept
        return normalize_phone(phone)
    message = f"{mask_phone(phone)} is not a Vietnamese mobile number"
    raise ZaloError("bad-phone", message, "permanent", fallback_to_email=True)


_TRACKING = re.compile(r"^[A-Za-z0-9]{1,48}$")


def tracking_id(delivery_id: int, attempt: int | None = None) -> str:
    """'dondoc17' (or 'dondoc17a2'): letters and digits, at most 48, echoed by the webhook."""
    if delivery_id < 1 or (attempt is not None and attempt < 1):
        raise ValueError("delivery id and attempt are positive")
    value = f"dondoc{delivery_id}" + (f"a{attempt}" if attempt is not None else "")
    if not _TRACKING.match(value):
        raise ValueError("tracking id longer than 48 characters")
    return value


def template_data(template: ZaloTemplate, values: Mapping[str, object]) -> dict[str, str]:
    """The template's parameters as NFC strings within their limits, or a permanent error."""
    missing, extra = template.params.keys() - values.keys(), values.keys() - template.params.keys()
    if missing or extra:
        raise _bad_data(
            f"template {template.template_id}: missing {sorted(missing)}, unknown {sorted(extra)}"
        )
    return {name: _fit(template, name, values[name]) for name in template.params}


def _fit(template: ZaloTemplate, name: str, value: object) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _bad_data(f"parameter {name} must be text, not {type(value).__name__}")
    text = " ".join(unicodedata.normalize("NFC", str(value)).split())
    limit = template.params[name]
    if not text:
        raise _bad_data(f"parameter {name} is empty")
    if len(text) <= limit:
        return text
    if name not in template.shorten:
        raise _bad_data(f"parameter {name} has {len(text)} characters (at most {limit})")
    return shorten(text, limit)


def shorten(text: str, limit: int) -> str:
    """Cut to `limit` characters, "…" included, at a word boundary when one is near."""
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–") + "…"


def _bad_data(message: str) -> ZaloError:
    return ZaloError("bad-data", message, "permanent", alert_office=True)


@dataclass(frozen=True)
class ZaloResult:
    msg_id: str
    sent_time: datetime | None
    quota_daily: int | None
    quota_remaining: int | None


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
        if not _TRACKING.match(tracking_id):
            raise _bad_data("tracking_id must be 1-48 letters or digits")
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


def _send_result(response: httpx.Response) -> ZaloResult:
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
    data = _dict(payload.get("data"))
    quota = _dict(data.get("quota"))
    if not data.get("msg_id"):
        raise ZaloError("no-msg-id", "success without a msg_id: check before resending", "unknown")
    sent = _int(data.get("sent_time"))
    return ZaloResult(
        msg_id=str(data["msg_id"]),
        sent_time=datetime.fromtimestamp(sent / 1000, UTC) if sent is not None else None,
        quota_daily=_int(quota.get("dailyQuota")),
        quota_remaining=_int(quota.get("remainingQuota")),
    )


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
