"""A fake Zalo API for tests, served over HTTP on loopback (tests.support.server.serving).

- POST /v4/oa/access_token: single-use refresh tokens (each refresh rotates the pair and kills
  the old refresh token), access tokens with a configurable lifetime on the fake's clock,
  `expires_in` as a string, a refusal without `access_token` (HTTP 200).
- POST /message/template: the `access_token` header, phone, template id, template data and
  tracking id checked as Zalo documents them; success JSON with numbers as strings and a
  decreasing quota; every error as HTTP 200 with a non-zero `error`. The bad-data codes chosen
  for each check are plausible members of the reference's bad-data class.
- GET /message/status?message_id=: what Zalo knows of a message it accepted;
  `delivery_event` builds the signed delivery webhook (user_received_message) for one.
- Test-only switches, in Python and under /_fake/ (for users in another process): expire all
  tokens now, inject the next N errors, set the daily quota, the night ban, delays (the message
  is recorded before the delay: a client that times out has still "sent" it once)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Body, FastAPI, Form, Header
from sqlalchemy import Engine
from sqlmodel import Session

from notifications.zalo import TokenPair, ZaloError, ZaloTemplate
from tests.support.server import serving
from tests.support.smtp import Inbox, smtp_for_dondoc

Json = dict[str, Any]
PHONE = re.compile(r"^84[35789]\d{8}$")
TRACKING = re.compile(r"^[A-Za-z0-9]{1,48}$")
OA_SECRET = "fake-oa-secret"  # signs the delivery webhook
# Templates "approved" at the fake, per message kind (limits as Zalo registers them).
TEMPLATES = {
    "before": ZaloTemplate(
        template_id="301001",
        params={"ten_don_vi": 30, "noi_dung": 60, "han_nop": 20, "ma_don_vi": 20},
        shorten=frozenset({"ten_don_vi", "noi_dung"}),
    ),
    "overdue": ZaloTemplate(template_id="301003", params={"ten_don_vi": 30, "so_ngay": 5}),
}


class FakeClock:
    """One clock for the fake, the client and the token store: tests move time by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class MemoryTokenStore:
    """A TokenStore in memory, for tests only: in production a refresh token lost in a restart
    is an app to re-authorise, so the pair lives in the database (dondoc.zalotokens)."""

    def __init__(self, pair: TokenPair) -> None:
        self.pair, self.needs_reauthorisation = pair, False
        self.lock = threading.Lock()

    def current(self) -> TokenPair:
        if self.needs_reauthorisation:
            raise ZaloError("reauthorise", "the app must be re-authorised", "needs_person")
        return self.pair

    def refresh(self, stale: TokenPair, do_refresh: Callable[[str], TokenPair]) -> TokenPair:
        with self.lock:
            if self.pair.version != stale.version:
                return self.pair
            try:
                fresh = do_refresh(self.pair.refresh_token)
            except ZaloError as exc:
                if exc.kind == "needs_person":
                    self.needs_reauthorisation = True
                raise
            self.pair = replace(fresh, version=stale.version + 1)
            return self.pair


class FakeZalo:
    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        templates: Mapping[str, ZaloTemplate] = TEMPLATES,
        app_id: str = "4318291052331",
        secret_key: str = "fake-app-secret",
        access_lifetime: timedelta = timedelta(hours=25),
    ) -> None:
        self.clock = clock
        self.templates = {t.template_id: t.params for t in templates.values()}
        self.app_id, self.secret_key, self.access_lifetime = app_id, secret_key, access_lifetime
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.access: dict[str, datetime] = {}  # access token -> expiry
            self.refresh_tokens: set[str] = set()
            self.refresh_calls = self.send_calls = self.rejected_tokens = 0
            self.messages: list[Json] = []
            self.errors: deque[int] = deque()
            self.refusals: dict[str, int] = {}  # phone -> error code, for every send to it
            self.quota_daily, self.quota_used = 5000, 0
            self.night_ban = False
            self.delay = self.refresh_delay = 0.0

    # Test-only switches.
    def issue_pair(self) -> tuple[str, str]:
        """A pair as a person's authorisation would give it (not counted as a refresh)."""
        with self.lock:
            return self._new_pair()

    def expire_tokens(self) -> None:
        with self.lock:
            self.access = dict.fromkeys(self.access, self.clock() - timedelta(seconds=1))

    def inject(self, code: int, times: int = 1) -> None:
        with self.lock:
            self.errors.extend([code] * times)

    def refuse(self, phone: str, code: int) -> None:
        """Every message to this phone (84…) gets `code`, like a user who cannot receive."""
        with self.lock:
            self.refusals[phone] = code

    def set_quota(self, daily: int, used: int = 0) -> None:
        with self.lock:
            self.quota_daily, self.quota_used = daily, used

    # The API.
    def refresh(self, *, app_id: str, grant_type: str, refresh_token: str, secret: str) -> Json:
        with self.lock:
            self.refresh_calls += 1
            if secret != self.secret_key or app_id != self.app_id:
                return _oauth_error(-14002, "Invalid app id or secret key")
            if grant_type != "refresh_token" or refresh_token not in self.refresh_tokens:
                return _oauth_error(-14014, "Invalid refresh token")
            self.refresh_tokens.discard(refresh_token)  # single use
            access, refresh = self._new_pair()
        time.sleep(self.refresh_delay)
        seconds = str(int(self.access_lifetime.total_seconds()))
        return {"access_token": access, "refresh_token": refresh, "expires_in": seconds}

    def send(self, access_token: str, body: Json) -> Json:
        with self.lock:
            self.send_calls += 1
            answer = self._accept(access_token, body)
        time.sleep(self.delay)
        return answer

    def _accept(self, access_token: str, body: Json) -> Json:
        expiry = self.access.get(access_token)
        if expiry is None or expiry <= self.clock():
            self.rejected_tokens += 1
            return _error(-124, "Access token is invalid")
        if self.errors:
            return _error(self.errors.popleft(), "Injected error")
        if refusal := self.refusals.get(str(body.get("phone", ""))):
            return _error(refusal, "Refused for this phone")
        if self.night_ban:
            return _error(-133, "Sending is not allowed between 22:00 and 06:00")
        if problem := self._problem(body):
            return _error(*problem)
        if self.quota_used >= self.quota_daily:
            return _error(-144, "OA has exceeded the daily quota")
        self.quota_used += 1
        msg_id = secrets.token_hex(16)
        sent_time = str(int(self.clock().timestamp() * 1000))
        self.messages.append({**body, "msg_id": msg_id, "sent_time": sent_time})
        quota = {
            "dailyQuota": str(self.quota_daily),
            "remainingQuota": str(self.quota_daily - self.quota_used),
        }
        data = {"msg_id": msg_id, "sent_time": sent_time, "sending_mode": "1", "quota": quota}
        return {"error": 0, "message": "Success", "data": data}

    def status(self, access_token: str, message_id: str) -> Json:
        """GET /message/status: a message it accepted is "delivered" (status 1) at once."""
        with self.lock:
            expiry = self.access.get(access_token)
            if expiry is None or expiry <= self.clock():
                return _error(-124, "Access token is invalid")
            found = [m for m in self.messages if m["msg_id"] == message_id]
        if not found:
            return _error(-1, "Message not found")  # plausible: no code is documented
        data = {"delivery_time": found[0]["sent_time"], "status": 1,
                "message": "The message was delivered to the user's phone"}  # fmt: skip
        return {"error": 0, "message": "Success", "data": data}

    def delivery_event(self, message: Json) -> tuple[bytes, dict[str, str]]:
        """The webhook Zalo would post for a delivered message: raw body and headers, signed
        as the reference describes (mac = sha256(app id + body + timestamp + OA secret))."""
        timestamp = str(int(self.clock().timestamp() * 1000))
        event = {"event_name": "user_received_message", "app_id": self.app_id,
                 "timestamp": timestamp,
                 "message": {"msg_id": message["msg_id"], "tracking_id": message["tracking_id"],
                             "delivery_time": message["sent_time"]}}  # fmt: skip
        body = json.dumps(event).encode()
        mac = hashlib.sha256(self.app_id.encode() + body + (timestamp + OA_SECRET).encode())
        return body, {"X-ZEvent-Signature": f"mac={mac.hexdigest()}"}

    def _problem(self, body: Json) -> tuple[int, str] | None:
        if not PHONE.match(str(body.get("phone", ""))):
            return -108, "Phone number is invalid"
        params = self.templates.get(str(body.get("template_id", "")))
        if params is None:
            return -109, "Template id is invalid"
        data = body.get("template_data")
        if not isinstance(data, dict) or not data:
            return -111, "Template data is empty"
        if set(data) != set(params):
            return -1122, "Template data does not match the template's parameters"
        if not all(isinstance(value, str) for value in data.values()):
            return -1124, "Template data values must be strings"
        if any(len(value) > params[name] for name, value in data.items()):
            return -1121, "A parameter exceeds its maximum length"
        if not TRACKING.match(str(body.get("tracking_id", ""))):
            return -112, "tracking_id must be 1-48 letters or digits"
        return None

    def _new_pair(self) -> tuple[str, str]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        self.access[access] = self.clock() + self.access_lifetime
        self.refresh_tokens.add(refresh)
        return access, refresh

    def app(self) -> FastAPI:
        api = FastAPI()
        api.get("/healthz")(lambda: {"ok": True})

        @api.post("/v4/oa/access_token")
        def access_token(
            app_id: Annotated[str, Form()] = "",
            grant_type: Annotated[str, Form()] = "",
            refresh_token: Annotated[str, Form()] = "",
            secret_key: Annotated[str, Header(convert_underscores=False)] = "",
        ) -> Json:
            return self.refresh(
                app_id=app_id, grant_type=grant_type, refresh_token=refresh_token, secret=secret_key
            )

        @api.get("/message/status")
        def status(
            message_id: str = "",
            access_token: Annotated[str, Header(convert_underscores=False)] = "",
        ) -> Json:
            return self.status(access_token, message_id)

        @api.post("/message/template")
        def template(
            body: Annotated[Json, Body()],
            access_token: Annotated[str, Header(convert_underscores=False)] = "",
        ) -> Json:
            return self.send(access_token, body)

        _switches(api, self)
        return api


def _switches(api: FastAPI, fake: FakeZalo) -> None:
    api.post("/_fake/expire-tokens")(fake.expire_tokens)
    api.post("/_fake/errors")(fake.inject)
    api.post("/_fake/quota")(fake.set_quota)

    @api.post("/_fake/night-ban")
    def night_ban(on: bool) -> None:
        fake.night_ban = on

    @api.post("/_fake/delay")
    def delay(seconds: float) -> None:
        fake.delay = seconds

    @api.get("/_fake/messages")
    def messages() -> list[Json]:
        with fake.lock:
            return list(fake.messages)


def _error(code: int, message: str) -> Json:
    return {"error": code, "message": message}


def _oauth_error(code: int, reason: str) -> Json:
    return {"error": code, "error_name": "Invalid parameter", "error_reason": reason}


def hanoi(text: str) -> datetime:
    """'2015-11-23 09:00' in Hà Nội time, as an aware UTC datetime."""
    return datetime.fromisoformat(text + "+07:00").astimezone(UTC)


# The parameters dondoc's messages fill (notifications.messages.zalo_params), as registered
# with Zalo for the reminder kinds: what an installation's DONDOC_ZALO_CONFIG would hold.
REMINDER_PARAMS = {"unit": 30, "deadline": 20, "days_left": 30, "plan_number": 30,
                   "office_phone": 15, "link": 200}  # fmt: skip
# Values such a template takes (a "before" reminder to the seed's Q1-CD001), with the outbox
# row's own keys (template, unit_code) that the channel leaves out.
REMINDER_VALUES = {"template": "before", "unit_code": "Q1-CD001", "unit": "UBND P. Bến Nghé",
                   "deadline": "23:59 24/11/2015", "days_left": "còn 3 ngày làm việc",
                   "plan_number": "95/KH-LĐLĐ", "office_phone": "0900 001 302",
                   "link": "https://dondoc.example.invalid/u/abc"}  # fmt: skip
REMINDER_TEMPLATES = {
    kind: ZaloTemplate(template_id=f"40000{n}", params=REMINDER_PARAMS, shorten=frozenset({"unit"}))
    for n, kind in enumerate(("before", "due_today", "overdue", "escalation"), start=1)
}
# Receipts and return notices, for contacts who read Zalo only. The receipt's approved template
# has no link (dondoc writes one; the channel sends what the template has).
NOTICE_TEMPLATES = {
    "receipt": ZaloTemplate(template_id="400005", params={"unit": 30, "plan_number": 30,
                            "receipt_number": 30, "received_at": 20, "office_phone": 15},
                            shorten=frozenset({"unit"})),
    "returned": ZaloTemplate(template_id="400006", params={**REMINDER_PARAMS,
                             "return_reason": 100}, shorten=frozenset({"unit", "return_reason"})),
}  # fmt: skip


def configure_dondoc(
    fake: FakeZalo, base: str, config_path: Path, engine: Engine, monkeypatch: Any
) -> None:
    """Point dondoc's settings at this fake (DONDOC_ZALO_CONFIG, DONDOC_ZALO_SECRET_KEY) and
    store a token pair valid for 25 hours of real time (the client's clock)."""
    from dondoc.db import session_scope
    from dondoc.settings import get_settings
    from dondoc.zalotokens import seed_tokens

    approved = REMINDER_TEMPLATES | NOTICE_TEMPLATES
    templates = {k: t.model_dump(mode="json") for k, t in approved.items()}
    config = {"app_id": fake.app_id, "base_url": base, "timeout": 2,
              "oauth_url": f"{base}/v4/oa/access_token", "templates": templates}  # fmt: skip
    config_path.write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.setenv("DONDOC_ZALO_CONFIG", str(config_path))
    monkeypatch.setenv("DONDOC_ZALO_SECRET_KEY", fake.secret_key)
    monkeypatch.setenv("DONDOC_ZALO_OA_SECRET_KEY", OA_SECRET)
    get_settings.cache_clear()
    access, refresh = fake.issue_pair()
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        seed_tokens(session, app_id=fake.app_id, access=access, refresh=refresh,
                    expires_at=now + timedelta(hours=25), now=now)  # fmt: skip


@dataclass
class World:
    """The seed campaign loaded, email to a real SMTP server on loopback, Zalo to this fake."""

    engine: Engine
    fake: FakeZalo
    inbox: Inbox
    campaign_id: int = 1

    def tick(self, when: datetime) -> None:
        """One reminder tick, as the flow runs it: plan, then dispatch."""
        from dondoc.remindrun import dispatch_due, plan_and_enqueue
        from dondoc.settings import get_settings

        plan_and_enqueue(self.engine, self.campaign_id, now=when, settings=get_settings())
        dispatch_due(self.engine, now=when, settings=get_settings(), worker="test")


@contextmanager
def dondoc_world(
    engine: Engine, served: tuple[FakeZalo, str], tmp_path: Path, monkeypatch: Any
) -> Iterator[World]:
    from dondoc.plans.loader import load_plan
    from dondoc.rules.deadlines import VN_TZ
    from tests.support.files import SEED, copy_examples

    fake, base = served
    fake.reset()
    with smtp_for_dondoc(monkeypatch) as inbox:
        with Session(engine) as session:
            loaded_at = datetime(2015, 11, 5, 2, tzinfo=UTC)
            load_plan(session, copy_examples(tmp_path) / SEED, now=loaded_at, actor="test",
                      tz=VN_TZ)  # fmt: skip
            session.commit()
        configure_dondoc(fake, base, tmp_path / "zalo.json", engine, monkeypatch)
        yield World(engine, fake, inbox)


# Fixtures for the tests that run dondoc against this fake (pytest_plugins in those modules):
# the fake served once per module at 08:00 on Tue 17/11/2015, a fresh world per test.
@pytest.fixture(scope="module")
def zalo_served() -> Iterator[tuple[FakeZalo, str]]:
    start = datetime(2015, 11, 17, 1, tzinfo=UTC)  # 08:00 in Hồ Chí Minh City
    fake = FakeZalo(clock=FakeClock(start), templates=REMINDER_TEMPLATES | NOTICE_TEMPLATES)
    with serving(fake.app()) as base:
        yield fake, base


@pytest.fixture
def world(
    engine: Engine,
    zalo_served: tuple[FakeZalo, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    with dondoc_world(engine, zalo_served, tmp_path, monkeypatch) as made:
        yield made
