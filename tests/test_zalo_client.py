"""The Zalo client at its one seam, httpx.MockTransport: the shape of what it sends, how every
answer of the reference's error table (and HTTP and network failures) is classified, the token
protocol (ahead of expiry; on an invalid token one refresh and one retry), and the pure helpers
(phone, tracking id, template values, the next allowed moment)."""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from notifications.zalo import (
    TokenPair,
    ZaloClient,
    ZaloConfig,
    ZaloError,
    ZaloResult,
    ZaloTemplate,
    mask_phone,
    normalise_phone,
    template_data,
    tracking_id,
)
from tests.support.fake_zalo import TEMPLATES, MemoryTokenStore, hanoi

NOW = hanoi("2015-11-23 09:00")
CONFIG = ZaloConfig(
    app_id="4318291052331",
    secret_key=SecretStr("app-secret-xyz"),
    base_url="https://zalo.test",
    oauth_url="https://oauth.test/v4/oa/access_token",
    templates=TEMPLATES,
)
DATA = {
    "ten_don_vi": "CĐCS UBND phường Bến Nghé",
    "noi_dung": "Báo cáo sơ kết quý I năm 2015",
    "han_nop": "24/11/2015",
    "ma_don_vi": "Q1-CD001",
}
Answer = httpx.Response | Exception


class Scripted:
    """Answers requests from a script, in order, and keeps every request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers, self.requests = list(answers), list[httpx.Request]()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(msg_id: str = "5d1a2b3c", remaining: str = "4999") -> httpx.Response:
    quota = {"dailyQuota": "5000", "remainingQuota": remaining}
    data = {"msg_id": msg_id, "sent_time": "1448244000000", "sending_mode": "1", "quota": quota}
    return httpx.Response(200, json={"error": 0, "message": "Success", "data": data})


def err(code: int | str) -> httpx.Response:
    return httpx.Response(200, json={"error": code, "message": "Zalo says no"})


def new_pair(expires_in: object = "90000") -> httpx.Response:
    body = {"access_token": "ACCESS2", "refresh_token": "REFRESH2", "expires_in": expires_in}
    return httpx.Response(200, json=body)


def client_for(
    script: Scripted, *, left: timedelta = timedelta(hours=20), config: ZaloConfig = CONFIG
) -> tuple[ZaloClient, MemoryTokenStore]:
    store = MemoryTokenStore(TokenPair("ACCESS1", "REFRESH1", NOW + left))
    transport = httpx.MockTransport(script)
    return ZaloClient(config, store, transport=transport, clock=lambda: NOW), store


def send(client: ZaloClient, phone: str = "0912 345 678") -> ZaloResult:
    return client.send_template(phone=phone, kind="before", data=DATA, tracking_id="dondoc17")


def failure(script: Scripted, left: timedelta = timedelta(hours=20)) -> ZaloError:
    client, _ = client_for(script, left=left)
    with pytest.raises(ZaloError) as caught:
        send(client)
    return caught.value


# What is sent.


def test_it_posts_the_template_with_the_access_token_header() -> None:
    script = Scripted(ok())
    result = send(client_for(script)[0])
    [request] = script.requests
    assert (request.method, str(request.url)) == ("POST", "https://zalo.test/message/template")
    assert request.headers["access_token"] == "ACCESS1"
    assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "phone": "84912345678",
        "template_id": "301001",
        "template_data": DATA,
        "tracking_id": "dondoc17",
    }
    assert result == ZaloResult("5d1a2b3c", hanoi("2015-11-23 09:00"), 5000, 4999)


def test_development_mode_is_asked_for_in_the_body() -> None:
    script = Scripted(ok())
    send(client_for(script, config=CONFIG.model_copy(update={"development": True}))[0])
    assert json.loads(script.requests[0].content)["mode"] == "development"


def test_it_refreshes_with_the_form_and_the_secret_key_header_ahead_of_expiry() -> None:
    script = Scripted(new_pair(), ok())
    client, store = client_for(script, left=timedelta(minutes=9))
    send(client)
    refresh, message = script.requests
    assert str(refresh.url) == "https://oauth.test/v4/oa/access_token"
    assert refresh.headers["secret_key"] == "app-secret-xyz"
    assert parse_qs(refresh.content.decode()) == {
        "app_id": ["4318291052331"],
        "grant_type": ["refresh_token"],
        "refresh_token": ["REFRESH1"],
    }
    assert message.headers["access_token"] == "ACCESS2"
    assert store.pair == TokenPair("ACCESS2", "REFRESH2", NOW + timedelta(seconds=90000), 1)


def test_it_does_not_refresh_with_more_than_ten_minutes_left() -> None:
    script = Scripted(ok())
    send(client_for(script, left=timedelta(minutes=11))[0])
    assert len(script.requests) == 1


@pytest.mark.parametrize(("expires_in", "lifetime"), [(90000, 90000), (None, 3600), ("x", 3600)])
def test_expires_in_may_be_a_number_and_a_missing_one_means_an_hour(
    expires_in: object, lifetime: int
) -> None:
    client, store = client_for(Scripted(new_pair(expires_in), ok()), left=timedelta(0))
    send(client)
    assert store.pair.expires_at == NOW + timedelta(seconds=lifetime)


# The token protocol.


def test_an_invalid_token_is_refreshed_once_and_the_send_retried_once() -> None:
    script = Scripted(err(-124), new_pair(), ok())
    client, store = client_for(script)
    assert send(client).msg_id == "5d1a2b3c"
    assert [r.url.host for r in script.requests] == ["zalo.test", "oauth.test", "zalo.test"]
    assert script.requests[2].headers["access_token"] == "ACCESS2"
    assert store.pair.version == 1


def test_a_token_refused_again_after_the_refresh_is_not_refreshed_again() -> None:
    script = Scripted(err(-124), new_pair(), err("-124"))
    assert failure(script).kind == "invalid_token"
    assert len(script.requests) == 3 and not script.answers


def test_a_refresh_answer_without_an_access_token_needs_a_person() -> None:
    refused = {"error": -14014, "error_name": "Invalid parameter", "error_reason": "bad token"}
    script = Scripted(httpx.Response(200, json=refused))
    client, store = client_for(script, left=timedelta(minutes=-1))
    with pytest.raises(ZaloError) as caught:
        send(client)
    assert (caught.value.kind, caught.value.code) == ("needs_person", "-14014")
    assert caught.value.alert_office and store.needs_reauthorisation
    with pytest.raises(ZaloError, match="re-authorised"):
        send(client)
    assert len(script.requests) == 1


def test_a_failed_early_refresh_keeps_the_still_valid_token() -> None:
    script = Scripted(httpx.Response(503), ok())
    client, store = client_for(script, left=timedelta(minutes=5))
    send(client)
    assert script.requests[1].headers["access_token"] == "ACCESS1"
    assert store.pair.version == 0


def test_a_failed_refresh_of_an_expired_token_is_transient_and_sends_nothing() -> None:
    script = Scripted(httpx.ConnectError("refused"))
    assert failure(script, left=timedelta(minutes=-1)).kind == "transient"
    assert [r.url.host for r in script.requests] == ["oauth.test"]


# How every answer is classified (../shared/reference/zalo-apprise.md, "Error codes").

BAD_DATA = (-109, -111, -112, -1121, -1122, -1123, -1124, -131, -132)
CANNOT_RECEIVE = (-110, -114, -118, -119, -139, -140, -141)
ACCOUNT = (-101, -102, -103, -104, -105, -117, -125, -135, -136, -137, -145, -146)
TABLE = [
    *[(code, "invalid_token", False) for code in (-124, -216, -220)],
    *[(code, "transient", False) for code in (-100, -32)],
    *[(code, "deferred", False) for code in (-144, -147, -115, -133)],
    (-108, "permanent", True),  # a bad phone: this contact cannot get Zalo, email can
    *[(code, "permanent", False) for code in BAD_DATA],
    *[(code, "permanent", True) for code in CANNOT_RECEIVE],
    *[(code, "needs_person", False) for code in ACCOUNT],
    (-999, "needs_person", False),  # unlisted
]


@pytest.mark.parametrize(("code", "kind", "fallback"), TABLE)
def test_every_listed_error_code_is_classified(code: int, kind: str, fallback: bool) -> None:
    answers: list[Answer] = [err(code), new_pair(), err(code)] if kind == "invalid_token" else []
    script = Scripted(*(answers or [err(code)]))
    error = failure(script)
    assert (error.code, error.kind, error.fallback_to_email) == (str(code), kind, fallback)
    assert error.permanent == (kind in ("permanent", "needs_person"))
    assert (error.retry_at(NOW) is not None) == (kind == "deferred")
    assert not script.answers


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, "transient"),
        (502, "transient"),
        (503, "transient"),
        (504, "transient"),
        (429, "transient"),
        (404, "needs_person"),
        (401, "needs_person"),
    ],
)
def test_http_failures_are_classified(status: int, kind: str) -> None:
    error = failure(Scripted(httpx.Response(status, text="<html>nope</html>")))
    assert (error.code, error.kind) == (f"http-{status}", kind)


def _timeout(kind: type[httpx.TimeoutException]) -> Callable[[], Exception]:
    return lambda: kind("timed out")


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda: httpx.ConnectError("connection refused"), "transient"),
        (_timeout(httpx.ConnectTimeout), "transient"),
        (_timeout(httpx.PoolTimeout), "transient"),
        (_timeout(httpx.ReadTimeout), "unknown"),
        (_timeout(httpx.WriteTimeout), "unknown"),
        (lambda: httpx.ReadError("connection reset"), "unknown"),
        (lambda: httpx.RemoteProtocolError("server disconnected"), "unknown"),
    ],
)
def test_network_failures_are_transient_before_the_request_left_else_unknown(
    make: Callable[[], Exception], kind: str
) -> None:
    script = Scripted(make())
    error = failure(script)
    assert error.kind == kind and error.permanent == (kind == "unknown")
    assert len(script.requests) == 1  # never resent here


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>proxy page</html>"),
        httpx.Response(200, json={"message": "no error field"}),
        httpx.Response(200, json={"error": 0, "message": "Success", "data": {}}),
    ],
)
def test_an_unreadable_answer_is_unknown(answer: httpx.Response) -> None:
    assert failure(Scripted(answer)).kind == "unknown"


# The next allowed moment (Asia/Ho_Chi_Minh).


@pytest.mark.parametrize(
    ("code", "at", "retry"),
    [
        (-133, "2015-11-23 22:30", hanoi("2015-11-24 06:00")),
        (-133, "2015-11-24 03:15", hanoi("2015-11-24 06:00")),
        (-133, "2015-11-24 05:59", hanoi("2015-11-24 06:00")),
        (-133, "2015-11-24 06:00", hanoi("2015-11-24 06:05")),  # clocks disagree: a pause
        (-144, "2015-11-23 14:00", hanoi("2015-11-24 08:00")),
        (-147, "2015-11-23 23:50", hanoi("2015-11-24 08:00")),
        (-115, "2015-11-24 00:30", hanoi("2015-11-25 08:00")),  # today's quota is spent
    ],
)
def test_deferred_errors_say_when_to_try_again(code: int, at: str, retry: datetime) -> None:
    error = ZaloError(str(code), "later", "deferred")
    assert error.retry_at(hanoi(at)) == retry
    assert error.retry_at(hanoi(at)).tzinfo is not None  # type: ignore[union-attr]


def test_only_deferred_errors_have_a_moment() -> None:
    assert ZaloError("-100", "busy", "transient").retry_at(NOW) is None


# Phones, tracking ids and template values.


@pytest.mark.parametrize(
    "raw", ["0912345678", "0912 345 678", "+84 912.345.678", "84912345678", "912345678"]
)
def test_phones_are_normalised_to_84_and_nine_digits(raw: str) -> None:
    assert normalise_phone(raw) == "84912345678"


@pytest.mark.parametrize("raw", ["0212345678", "091234567", "02838123456", "hotline"])
def test_a_bad_phone_is_refused_before_sending_with_a_masked_message(raw: str) -> None:
    script = Scripted()
    client, _ = client_for(script)
    with pytest.raises(ZaloError) as caught:
        send(client, phone=raw)
    assert (caught.value.kind, caught.value.fallback_to_email) == ("permanent", True)
    assert raw not in str(caught.value) and caught.value.__context__ is None
    assert not script.requests


def test_phones_are_masked() -> None:
    assert mask_phone("84912345678") == "84912***678"
    assert mask_phone("12") == "***"


def test_tracking_ids_are_deterministic_letters_and_digits() -> None:
    assert tracking_id(17) == tracking_id(17) == "dondoc17"
    assert tracking_id(17, attempt=2) == "dondoc17a2"
    assert len(tracking_id(10**30, attempt=10**9)) <= 48
    with pytest.raises(ValueError):
        tracking_id(0)
    with pytest.raises(ValueError):
        tracking_id(10**45)


def test_a_bad_tracking_id_is_refused() -> None:
    client, _ = client_for(Scripted())
    with pytest.raises(ZaloError, match="tracking_id"):
        client.send_template(phone="0912345678", kind="before", data=DATA, tracking_id="a-1")


def test_values_are_nfc_and_measured_after_normalising() -> None:
    name = "Công đoàn phường Bến Nghé Q1"  # 28 characters composed, more decomposed
    decomposed = unicodedata.normalize("NFD", name)
    assert len(decomposed) > 30
    values = template_data(TEMPLATES["before"], DATA | {"ten_don_vi": decomposed})
    assert values["ten_don_vi"] == name


def test_long_names_are_shortened_at_a_word_with_an_ellipsis() -> None:
    long_name = "Công đoàn cơ sở Ủy ban nhân dân phường Bến Nghé, Quận 1"
    value = template_data(TEMPLATES["before"], DATA | {"ten_don_vi": long_name})["ten_don_vi"]
    assert value == "Công đoàn cơ sở Ủy ban nhân…"
    assert len(value) <= 30


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"han_nop": "23:59 thứ Ba, ngày 24/11/2015"}, "han_nop has 29 characters"),
        ({"ma_don_vi": "  "}, "ma_don_vi is empty"),
        ({"ma_don_vi": None}, "must be text"),
        ({"thua": "x"}, "unknown"),
    ],
)
def test_other_values_over_their_limit_or_missing_are_refused(
    change: dict[str, object], problem: str
) -> None:
    with pytest.raises(ZaloError, match=problem) as caught:
        template_data(TEMPLATES["before"], DATA | change)
    assert caught.value.kind == "permanent" and caught.value.alert_office


def test_numbers_become_text_and_spaces_are_collapsed() -> None:
    values = template_data(TEMPLATES["overdue"], {"ten_don_vi": " CĐCS \n Bến Nghé ", "so_ngay": 3})
    assert values == {"ten_don_vi": "CĐCS Bến Nghé", "so_ngay": "3"}


def test_a_kind_without_a_template_needs_a_person() -> None:
    client, _ = client_for(Scripted())
    with pytest.raises(ZaloError) as caught:
        client.send_template(phone="0912345678", kind="receipt", data={}, tracking_id="x1")
    assert (caught.value.kind, caught.value.code) == ("needs_person", "no-template")


# Configuration and logs.


def test_the_config_hides_its_secret_and_checks_its_templates() -> None:
    assert "app-secret-xyz" not in repr(CONFIG)
    with pytest.raises(ValidationError, match="shorten"):
        ZaloTemplate(template_id="1", params={"a": 10}, shorten=frozenset({"b"}))


def test_logs_mask_the_phone_and_never_show_tokens(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client, _ = client_for(Scripted(err(-124), new_pair(), ok(), err(-118)))
    send(client)
    with pytest.raises(ZaloError):
        send(client)
    text = caplog.text
    assert "84912***678" in text and "-118" in text
    for secret in ("912345678", "ACCESS1", "ACCESS2", "REFRESH1", "REFRESH2", "app-secret"):
        assert secret not in text
