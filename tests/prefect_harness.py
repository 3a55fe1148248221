"""Prefect for the flow tests, as a pytest plugin: modules that run flows declare
`pytest_plugins = ["tests.prefect_harness"]`, so that the whole session shares one harness.

The harness is a temporary Prefect server (~8 s to start). Heartbeats are off: with them each
sync flow run waits about a second for its heartbeat thread; production keeps them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from prefect.events import Event
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.settings import (
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_SERVER_ANALYTICS_ENABLED,
    temporary_settings,
)
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    quiet = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None, PREFECT_SERVER_ANALYTICS_ENABLED: False}
    with temporary_settings(updates=quiet), prefect_test_harness():
        yield


@pytest.fixture
def dondoc_events(
    monkeypatch: pytest.MonkeyPatch, prefect_harness: None
) -> Iterator[Callable[[], list[Event]]]:
    """The events the code under test emitted (dondoc.* only), kept in memory: Prefect's own
    recording client stands in for the server's events endpoint."""
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)

    def emitted() -> list[Event]:
        worker.wait_until_empty()
        client = AssertingEventsClient.last
        assert client is not None
        return [e for e in client.events if e.event.startswith("dondoc.")]

    yield emitted
    worker.drain()
