"""Zalo's delivery webhook through the real app: a signed event settles an unknown row, a
forged one is answered 200 (Zalo's URL check needs it) and settles nothing. Against the fake
Zalo on loopback."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dondoc.settings import get_settings
from tests.support.fake_zalo import World
from tests.test_delivery_reconcile import row
from tests.test_outbox_settle import at, unknown_message
from web.app import create_app
from web.deps import get_now

pytest_plugins = ["tests.support.fake_zalo"]


def test_a_signed_event_settles_the_unknown_row_and_a_forged_one_is_ignored(world: World) -> None:
    delivery_id = unknown_message(world)
    [message] = world.fake.messages
    body, headers = world.fake.delivery_event(message)
    app = create_app()
    app.dependency_overrides[get_now] = lambda: at("2015-11-17 08:06")

    with TestClient(app) as client:
        forged = client.post(
            "/zalo/webhook", content=body, headers={"X-ZEvent-Signature": "mac=00"}
        )
        assert (forged.status_code, forged.json()) == (200, {"ok": False, "state": "ignored"})
        assert row(world.engine, delivery_id).state == "unknown"
        settled = client.post("/zalo/webhook", content=body, headers=headers)

    assert (settled.status_code, settled.json()) == (200, {"ok": True, "state": "reconciled"})
    assert row(world.engine, delivery_id).state == "sent"
    assert len(world.fake.messages) == 1  # settled, never sent again


def test_without_the_oa_secret_the_webhook_answers_503_and_settles_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery_id = unknown_message(world)
    [message] = world.fake.messages
    body, headers = world.fake.delivery_event(message)
    monkeypatch.delenv("DONDOC_ZALO_OA_SECRET_KEY")
    get_settings.cache_clear()
    app = create_app()
    app.dependency_overrides[get_now] = lambda: at("2015-11-17 08:06")

    with TestClient(app) as client:
        answer = client.post("/zalo/webhook", content=body, headers=headers)

    assert answer.status_code == 503  # registering the URL fails until the secret is set
    assert row(world.engine, delivery_id).state == "unknown"
