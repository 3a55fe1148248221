"""send_reminders as the Prefect server records it: the same task runs a tick whatever the number
of units (one per campaign, three more), and a summary artifact whose counts are the outbox's
and the SMTP server's. Sends are unpaced here (DONDOC_*_PER_SECOND=0)."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
)
from prefect.client.schemas.objects import TaskRun
from prefect.events.worker import EventsWorker
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from flows.reminders import send_reminders
from models import Assignment, Campaign, Contact, Delivery, Requirement, Unit
from models.enums import CampaignStatus
from tests.support.smtp import Inbox, smtp_for_dondoc
from tests.support.tracking import CAMPAIGN, load_city, load_seed, local

pytest_plugins = ["tests.prefect_harness"]

KEY = "reminders-summary"
EXTRA_UNITS = 300
SETTLE = 20.0  # seconds the server may take to record the task runs (they arrive as events)


@dataclass(frozen=True)
class Counts:
    rows: int  # deliveries in the outbox
    sent: int  # of which sent
    received: int  # messages the SMTP server got

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            self.rows - other.rows, self.sent - other.sent, self.received - other.received
        )


@dataclass(frozen=True)
class Tick:
    summary: dict[str, int]  # what the flow returned
    artifact: dict[str, int]  # what its artifact says
    tasks: Counter[str]  # its task runs, by task
    change: Counts  # what changed in the outbox and the SMTP server meanwhile


@pytest.fixture
def mail(env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    monkeypatch.setenv("DONDOC_EMAIL_PER_SECOND", "0")
    monkeypatch.setenv("DONDOC_ZALO_PER_SECOND", "0")
    with smtp_for_dondoc(monkeypatch) as inbox:  # clears the settings cache
        yield inbox


@pytest.fixture
def plans(mail: Inbox, tmp_path: Path, prefect_harness: None) -> Path:
    """The seed campaign loaded; its copy of the example files (for the city plan)."""
    load_seed(tmp_path / "plan")
    return tmp_path / "plan"


def tick(engine: Engine, mail: Inbox, when: str) -> Tick:
    before = counts(engine, mail)
    state = send_reminders(now=local(when), return_state=True)
    run_id = state.state_details.flow_run_id
    assert state.is_completed() and run_id is not None
    change = counts(engine, mail) - before
    return Tick(state.result(), artifact(run_id), tasks(task_runs(run_id)), change)


def counts(engine: Engine, mail: Inbox) -> Counts:
    with Session(engine) as session:
        rows = session.exec(select(func.count()).select_from(Delivery)).one()
        sent = session.exec(select(func.count()).where(Delivery.state == "sent")).one()
    return Counts(rows, sent, len(mail.messages))


def task_runs(flow_run_id: UUID) -> list[TaskRun]:
    """The run's task runs, once two reads a moment apart agree and all are final."""
    EventsWorker.instance().wait_until_empty()
    seen: list[TaskRun] = []
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            found = client.read_task_runs(task_run_filter=TaskRunFilter(
                flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id])))  # fmt: skip
        if found and len(found) == len(seen) and all(r.state and r.state.is_final() for r in found):
            return found
        seen = found
        time.sleep(0.3)
    raise AssertionError(f"task runs of {flow_run_id} still arriving after {SETTLE} s")


def tasks(runs: list[TaskRun]) -> Counter[str]:
    return Counter(r.name.rsplit("-", 1)[0] for r in runs)  # "dispatch_task-0dd"


def artifact(flow_run_id: UUID) -> dict[str, int]:
    """The run's one summary artifact, its markdown lines `- name: count` read back."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[KEY]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))  # fmt: skip
    assert [a.type for a in found] == ["markdown"]
    lines = str(found[0].data).splitlines()
    parsed = [re.fullmatch(r"- (.+): (\d+)", line) for line in lines]
    assert lines and all(parsed), lines
    return {m[1]: int(m[2]) for m in parsed if m}


def active_campaigns(engine: Engine) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(Campaign.status == CampaignStatus.ACTIVE.value)
        return session.exec(query).one()


def expected_tasks(campaigns: int) -> Counter[str]:
    """Put back what a crash left, list the campaigns, plan each, dispatch: 3 + campaigns."""
    one = ("recover_stale", "active_campaigns", "dispatch_task")
    return Counter(dict.fromkeys(one, 1)) + Counter(plan_campaign_task=campaigns)


def add_units(engine: Engine, n: int) -> None:
    """n more grassroots unions under LĐLĐ Q1, each due the cdcs report, with an office email."""
    with Session(engine) as session:
        parent = session.exec(select(Unit.id).where(Unit.code == "LDLD-Q1")).one()
        requirement = session.exec(select(Requirement.id).where(Requirement.code == "cdcs")).one()
        units = [_unit(i, parent) for i in range(n)]
        session.add_all(units)
        session.flush()
        for unit in units:
            session.add(Assignment(requirement_id=requirement or 0, unit_id=unit.id or 0))
            session.add(Contact(unit_id=unit.id or 0, role="office", consent_email=True,
                                email=f"{unit.code.lower()}@example.invalid"))  # fmt: skip
        session.commit()


def _unit(i: int, parent: int | None) -> Unit:
    return Unit(code=f"Q1-X{i:04d}", name=f"CĐCS Công ty TNHH số {i}", kind="grassroots_union",
                parent_id=parent, calendar="mon_fri")  # fmt: skip


def assert_summary_is_true(tick: Tick) -> None:
    assert tick.artifact == tick.summary
    assert tick.artifact[f"{CAMPAIGN} planned"] == tick.change.rows > 0
    assert tick.artifact["sent"] == tick.change.sent == tick.change.received > 0


def test_the_summary_artifact_states_what_was_planned_and_what_the_smtp_server_got(
    engine: Engine, plans: Path, mail: Inbox
) -> None:
    first = tick(engine, mail, "2015-11-17 08:05")  # T−3 of the departments' 20/11
    assert_summary_is_true(first)
    assert (first.artifact["requeued"], first.artifact["unknown"]) == (0, 0)


def test_a_tick_runs_the_same_tasks_with_300_more_units(
    engine: Engine, plans: Path, mail: Inbox
) -> None:
    first = tick(engine, mail, "2015-11-17 08:05")
    add_units(engine, EXTRA_UNITS)
    second = tick(engine, mail, "2015-11-19 08:05")  # T−3 of the cdcs' 24/11: every unit due
    assert first.tasks == second.tasks == expected_tasks(active_campaigns(engine))
    assert second.tasks.total() == 4  # one campaign
    assert second.change.sent > EXTRA_UNITS > first.change.sent
    assert_summary_is_true(second)


def test_each_active_campaign_adds_one_task_run(engine: Engine, plans: Path, mail: Inbox) -> None:
    load_city(plans)  # the city plan the seed implements: a second active campaign
    run = tick(engine, mail, "2015-11-17 08:05")
    assert active_campaigns(engine) == 2
    assert run.tasks == expected_tasks(2) and run.tasks.total() == 5
