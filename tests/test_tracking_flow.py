"""The tracking flow over the seed campaign: the watched folder, statuses, artifacts, events and
the completion claims. Task bodies run with `.fn()`; the flow itself runs through Prefect's test
harness once per backend (each sync flow run costs a few tenths of a second)."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from importlib import import_module
from inspect import signature
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey
from prefect.client.schemas.objects import ArtifactCollection
from prefect.events import DeploymentTriggerTypes, Event
from prefect.logging import disable_run_logger
from pydantic import TypeAdapter
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.completion import CUTOFF, claim_completion
from dondoc.db import get_engine
from dondoc.settings import get_settings
from dondoc.watchfolder import (
    DONE,
    REJECTED,
    WatchConfig,
    intake_folder,
    pending,
    unit_code_from_name,
)
from flows.consolidate import consolidate
from flows.tracking import (
    COMPLETED_EVENT,
    RECEIVED_EVENT,
    CampaignSweep,
    emit_events,
    is_stale,
    sweep_campaign,
    track_submissions,
)
from models import Consolidation, Requirement, RequirementCompletion, Submission, SubmissionFile
from tests.support.tracking import (
    CAMPAIGN,
    DEPARTMENTS,
    accept,
    count,
    load_city,
    load_seed,
    local,
    submit,
)

pytest_plugins = ["tests.prefect_harness"]

ROOT = Path(__file__).resolve().parents[1]
Events = Callable[[], list[Event]]
REPORT = b"%PDF-1.4 bao cao so ket"


@pytest.fixture
def folder(env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The seed's watched folder under a fresh watch_dir."""
    (tmp_path / "watch").mkdir()
    monkeypatch.setenv("DONDOC_WATCH_DIR", str(tmp_path / "watch"))
    get_settings.cache_clear()
    return tmp_path / "watch" / CAMPAIGN


def drop(folder: Path, name: str, content: bytes = REPORT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return folder / name


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def sweep(campaign_id: int, at: datetime) -> CampaignSweep:
    with disable_run_logger():
        return sweep_campaign.fn(campaign_id, CAMPAIGN, at, settle_seconds=0)


def latest(key: str) -> ArtifactCollection:
    with get_client(sync_client=True) as client:
        found = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key]))
        )
    assert len(found) == 1, key
    return found[0]


def latest_artifact(key: str) -> Any:
    return latest(key).data


def statuses(s: CampaignSweep, requirement: str) -> dict[str, str]:
    return {r.unit_code: r.status.value for r in s.statuses if r.requirement_code == requirement}


# --- the flow, end to end -------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_tracks_the_seed_and_starts_one_consolidation_when_the_last_unit_submits(
    folder: Path, tmp_path: Path, dondoc_events: Events
) -> None:
    load_seed(tmp_path / "plan", departments_reviewed=False)
    for code in DEPARTMENTS[:-1]:
        submit(code, local("2015-11-20 10:00"))
    drop(folder, "Q1-CD001_bao-cao.pdf")

    [first] = track_submissions(now=local("2015-11-21 09:00"), settle_seconds=0)

    assert set(statuses(first, "ban-chuyen-de").values()) == {"on_time", "overdue"}
    assert statuses(first, "ban-chuyen-de")["LDLD-Q1-UBKT"] == "overdue"
    cdcs = statuses(first, "cdcs")
    assert (len(cdcs), cdcs["Q1-CD001"], cdcs["Q1-CD002"]) == (56, "on_time", "pending")
    assert latest_artifact("progress-q1-so-ket-2015-ban-chuyen-de") == 85.7
    assert latest_artifact("progress-q1-so-ket-2015-cdcs") == 0.0  # received, not yet accepted
    [row] = json.loads(latest_artifact("missing-late-q1-so-ket-2015"))
    assert (row["Mã đơn vị"], row["Tình trạng"]) == ("LDLD-Q1-UBKT", "Quá hạn, chưa nộp")
    assert "Q1-CD001_bao-cao.pdf" in names(folder / DONE)
    [received] = dondoc_events()
    assert received.event == RECEIVED_EVENT
    assert received.resource.id == f"dondoc.submission.{first.intake.recorded[0].submission_id}"
    assert received.payload["unit_code"] == "Q1-CD001"

    drop(folder, "LDLD-Q1-UBKT - bao cao.docx", b"UBKT bao cao")
    [second] = track_submissions(now=local("2015-11-23 09:00"), settle_seconds=0)
    track_submissions(now=local("2015-11-23 09:10"), settle_seconds=0)  # nothing new

    assert statuses(second, "ban-chuyen-de")["LDLD-Q1-UBKT"] == "late"
    assert latest_artifact("progress-q1-so-ket-2015-ban-chuyen-de") == 100.0
    [row] = json.loads(latest_artifact("missing-late-q1-so-ket-2015"))
    assert (row["Mã đơn vị"], row["Tình trạng"]) == ("LDLD-Q1-UBKT", "Nộp trễ hạn")
    assert "ban-chuyen-de" in latest_artifact("status-q1-so-ket-2015")
    completed = [e for e in dondoc_events() if e.event == COMPLETED_EVENT]
    assert len(completed) == 1 and count(RequirementCompletion) == 1
    [claim] = second.claimed
    assert completed[0].payload == {"campaign_id": second.campaign_id, **vars(claim)}
    assert completed[0].resource.id == f"dondoc.requirement.{claim.requirement_id}"

    summary = consolidate(**trigger_parameters(completed[0]))
    assert (summary.version, summary.counts.submitted, summary.counts.late) == (1, 7, 1)
    assert "Đã nộp 7/7" in latest_artifact("consolidation-q1-so-ket-2015-ban-chuyen-de")
    track_submissions(now=local("2015-11-23 10:00"), settle_seconds=0)
    assert count(Consolidation) == 1  # drafted by the trigger's run: nothing stalled


@pytest.mark.usefixtures("prefect_harness")
def test_a_claim_whose_event_was_lost_is_consolidated_by_a_later_tracking_run(
    folder: Path, tmp_path: Path
) -> None:
    load_seed(tmp_path / "plan", departments_reviewed=False)
    for code in DEPARTMENTS:
        submit(code, local("2015-11-20 10:00"))
    [claimed] = track_submissions(now=local("2015-11-21 09:00"), settle_seconds=0)
    track_submissions(now=local("2015-11-21 09:10"), settle_seconds=0)  # the trigger may still run
    assert (len(claimed.claimed), count(Consolidation)) == (1, 0)

    track_submissions(now=local("2015-11-21 09:20"), settle_seconds=0)
    track_submissions(now=local("2015-11-21 09:30"), settle_seconds=0)

    assert count(Consolidation) == 1


@pytest.mark.usefixtures("prefect_harness")
def test_a_failing_campaign_does_not_stop_the_others(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_seed(tmp_path / "plan")
    load_city(tmp_path / "plan")

    def share_gone_for_the_seed(campaign_id: int, config: WatchConfig, *, now: datetime) -> Any:
        if config.folder.name == CAMPAIGN:
            raise RuntimeError("the share went away")
        return intake_folder(campaign_id, config, now=now)

    monkeypatch.setattr("flows.tracking.intake_folder", share_gone_for_the_seed)

    state = track_submissions(now=local("2015-11-21 09:00"), settle_seconds=0, return_state=True)

    assert state.is_failed() and "the sweep failed for q1-so-ket-2015" in (state.message or "")
    city = latest("progress-hcm-78-2015-ldld-quan-huyen")
    assert city.flow_run_id == state.state_details.flow_run_id


def _consolidate_trigger() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    [deployment] = [d for d in config["deployments"] if d["name"] == "consolidate"]
    [trigger] = deployment["triggers"]
    return dict(trigger)


def trigger_parameters(event: Event) -> dict[str, Any]:
    """The parameters the consolidate deployment's trigger takes from the event's payload."""
    params = {}
    for name, template in _consolidate_trigger()["parameters"].items():
        match = re.fullmatch(r"\{\{ event\.payload\.(\w+) \}\}", template)
        assert match, template
        params[name] = event.payload[match[1]]
    return params


def test_prefect_yaml_schedules_tracking_and_wires_completions_to_the_consolidation() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    [pull] = config["pull"]
    assert list(pull) == ["prefect.deployments.steps.set_working_directory"]
    deployments = {d["name"]: d for d in config["deployments"]}
    for name, deployment in deployments.items():
        path, function = deployment["entrypoint"].split(":")
        flow = getattr(import_module(path.removesuffix(".py").replace("/", ".")), function)
        assert flow.name == name  # the deployments are track-submissions/track-submissions, …
        assert deployment["work_pool"]["name"] == "dondoc"
    tracking = deployments["track-submissions"]
    assert tracking["schedules"] == [
        {"cron": "*/10 * * * *", "timezone": "Asia/Ho_Chi_Minh", "active": True}
    ]
    assert tracking["concurrency_limit"] == 1
    trigger = _consolidate_trigger()
    TypeAdapter(DeploymentTriggerTypes).validate_python({**trigger, "name": "consolidate"})
    assert trigger["expect"] == [COMPLETED_EVENT]
    assert set(trigger["parameters"]) == set(signature(consolidate.fn).parameters)


# --- the watched folder ---------------------------------------------------------------------


def test_a_watched_file_is_recorded_once_across_runs(folder: Path, tmp_path: Path) -> None:
    campaign_id = load_seed(tmp_path / "plan")
    drop(folder, "Q1-CD012_bao-cao.pdf")

    first = sweep(campaign_id, local("2015-11-24 10:00"))
    again = sweep(campaign_id, local("2015-11-24 10:10"))
    drop(folder, "Q1-CD012 - gui lai.pdf")  # the same attachment saved twice
    third = sweep(campaign_id, local("2015-11-24 10:20"))

    [recorded] = first.intake.recorded
    assert (recorded.unit_code, recorded.requirement_code, recorded.version) == (
        "Q1-CD012",
        "cdcs",
        1,
    )
    assert (again.intake.recorded, third.intake.duplicates) == ([], ["Q1-CD012 - gui lai.pdf"])
    assert count(Submission) == 1
    assert names(folder / DONE) == ["Q1-CD012 - gui lai.pdf", "Q1-CD012_bao-cao.pdf"]
    with Session(get_engine()) as session:
        sub = session.exec(select(Submission)).one()
        stored = session.exec(select(SubmissionFile)).one()
    assert (sub.channel, sub.recorded_by, sub.received_at) == (
        "email",
        "watch-folder",
        local("2015-11-24 10:00"),
    )
    assert stored.name == "Q1-CD012_bao-cao.pdf" and sub.source_ref == f"watch:{stored.sha256}"
    assert statuses(first, "cdcs")["Q1-CD012"] == "on_time"


def test_a_crash_between_recording_and_moving_does_not_record_twice(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_id = load_seed(tmp_path / "plan")
    drop(folder, "Q1-CD003_bao-cao.pdf")

    def crash(*_: object) -> None:
        raise RuntimeError("power cut")

    with monkeypatch.context() as patched:
        patched.setattr("dondoc.watchfolder.file_away", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            sweep(campaign_id, local("2015-11-24 10:00"))
    assert count(Submission) == 1 and (folder / "Q1-CD003_bao-cao.pdf").exists()

    after = sweep(campaign_id, local("2015-11-24 10:10"))

    assert (after.intake.recorded, after.intake.duplicates) == ([], ["Q1-CD003_bao-cao.pdf"])
    assert count(Submission) == 1
    assert names(folder / DONE) == ["Q1-CD003_bao-cao.pdf"]


def test_sidecars_name_the_unit_and_unreadable_or_unknown_files_are_rejected(
    folder: Path, tmp_path: Path
) -> None:
    campaign_id = load_seed(tmp_path / "plan")
    drop(folder, "bao-cao.pdf")
    (folder / "bao-cao.pdf.txt").write_text("Q1-CD005\n", encoding="utf-8")
    drop(folder, "scan.pdf", b"scan")
    (folder / "scan.pdf.json").write_text(
        '{"unit": "q1-cd006", "requirement": "cdcs", "received_at": "24/11/2015 23:30"}',
        encoding="utf-8",
    )
    drop(folder, "LDLD-Q1-BTC-bao-cao.docx", b"btc")  # LDLD-Q1-BTC, not LDLD-Q1
    drop(folder, "Q9-XYZ_bao-cao.pdf", b"q9")
    drop(folder, "LDLD-Q1-VP_bao-cao.pdf", b"vp")  # the office itself reports nothing
    drop(folder, "Q1-CD007_trong.pdf", b"")
    drop(folder, "hong.pdf", b"x")
    (folder / "hong.pdf.json").write_text("{unit: Q1-CD008", encoding="utf-8")

    result = sweep(campaign_id, local("2015-11-25 08:00")).intake

    got = {r.file_name: (r.unit_code, r.version) for r in result.recorded}
    assert got == {
        "bao-cao.pdf": ("Q1-CD005", 1),
        "scan.pdf": ("Q1-CD006", 1),
        "LDLD-Q1-BTC-bao-cao.docx": ("LDLD-Q1-BTC", 1),
    }
    assert set(result.rejected) == {
        "Q9-XYZ_bao-cao.pdf",
        "LDLD-Q1-VP_bao-cao.pdf",
        "Q1-CD007_trong.pdf",
        "hong.pdf",
    }
    assert "Không nhận ra đơn vị" in result.rejected["Q9-XYZ_bao-cao.pdf"]
    assert "không phải nộp báo cáo" in result.rejected["LDLD-Q1-VP_bao-cao.pdf"]
    assert "rỗng" in result.rejected["Q1-CD007_trong.pdf"]
    assert "JSON" in result.rejected["hong.pdf"]
    rejected = names(folder / REJECTED)
    assert "hong.pdf.json" in rejected and "Q9-XYZ_bao-cao.pdf.why.txt" in rejected
    assert "bao-cao.pdf.txt" in names(folder / DONE)
    assert [p.name for p in folder.iterdir() if p.is_file()] == []
    with Session(get_engine()) as session:
        scan = session.exec(select(Submission).where(col(Submission.note).contains("scan"))).one()
    assert scan.received_at == local("2015-11-24 23:30")  # the email's time, from the sidecar


NAMES = [
    ("Q1-CD012_bao-cao.pdf", "Q1-CD012"),
    ("Q1-CD012 - bao cao.docx", "Q1-CD012"),
    ("q1-cd012-bao-cao.pdf", "Q1-CD012"),
    ("Q1-CD012.pdf", "Q1-CD012"),
    ("LDLD-Q1-BTC_bc.pdf", "LDLD-Q1-BTC"),
    ("LDLD-Q1_bc.pdf", "LDLD-Q1"),
    ("Q1-CD0123_bc.pdf", None),  # another code, not Q1-CD012 followed by "3"
    ("bao-cao Q1-CD012.pdf", None),
]


@pytest.mark.parametrize(("name", "expected"), NAMES)
def test_the_unit_code_starts_the_file_name(name: str, expected: str | None) -> None:
    codes = ["LDLD-Q1", "LDLD-Q1-BTC", "Q1-CD012", "Q1-CD001"]
    assert unit_code_from_name(name, codes) == expected


def test_files_still_being_copied_or_partial_wait(tmp_path: Path) -> None:
    for name in [
        "a.pdf",
        "b.pdf",
        "b.pdf.txt",
        "~$c.docx",
        ".d.pdf",
        "e.pdf.part",
        "f.pdf",
        "g.pdf",
        "g.pdf.json",
    ]:
        drop(tmp_path, name)
    for still_copying in ["f.pdf", "g.pdf.json"]:
        os.utime(tmp_path / still_copying, (time.time() + 600, time.time() + 600))

    ready = pending(tmp_path, settled_before=time.time())

    assert [(f.name, s.name if s else None) for f, s in ready] == [
        ("a.pdf", None),
        ("b.pdf", "b.pdf.txt"),
    ]


# --- claims ---------------------------------------------------------------------------------


def completions() -> list[tuple[str, str]]:
    with Session(get_engine()) as session:
        rows = session.exec(
            select(Requirement.code, RequirementCompletion.reason)
            .join(Requirement, col(Requirement.id) == RequirementCompletion.requirement_id)
            .order_by(col(RequirementCompletion.id))
        )
        return [(code, reason) for code, reason in rows]


def test_overlapping_sweeps_claim_a_complete_state_once(
    folder: Path, tmp_path: Path, dondoc_events: Events
) -> None:
    campaign_id = load_seed(tmp_path / "plan")
    for code in DEPARTMENTS:
        submit(code, local("2015-11-20 10:00"), accept=True)
    start = threading.Barrier(2)

    def overlapping(_: int) -> CampaignSweep:
        start.wait()
        return sweep_campaign.fn(campaign_id, CAMPAIGN, local("2015-11-21 09:00"), 0)

    with disable_run_logger():  # once for both threads: it switches loggers process-wide
        with ThreadPoolExecutor(2) as pool:
            sweeps = list(pool.map(overlapping, range(2)))
        for s in sweeps:
            emit_events.fn(s)

    assert sorted(len(s.claimed) for s in sweeps) == [0, 1]
    assert completions() == [("ban-chuyen-de", "complete")]
    assert [e.event for e in dondoc_events()] == [COMPLETED_EVENT]


def test_a_claim_waits_for_and_loses_to_a_transaction_holding_the_same_state(
    engine: Engine, tmp_path: Path
) -> None:
    load_seed(tmp_path / "plan")
    with Session(engine) as s:
        rid = s.exec(select(Requirement.id).where(Requirement.code == "cdcs")).one() or 0
    now = local("2015-11-26 00:00")

    def claim(session: Session) -> bool:
        return claim_completion(
            session, requirement_id=rid, state_key="k" * 64, reason="complete", now=now
        )

    def second() -> bool:
        with Session(engine) as other:
            won = claim(other)
            other.commit()
            return won

    with Session(engine) as first, ThreadPoolExecutor(1) as pool:
        assert claim(first)
        other = pool.submit(second)
        time.sleep(0.3)  # the other claim is now waiting on the unique index or the lock
        first.commit()
        assert other.result(timeout=20) is False
        assert claim(first) is False  # and the refusing session stays usable
        first.commit()
    assert count(RequirementCompletion) == 1


def test_a_later_correction_is_a_new_state(folder: Path, tmp_path: Path) -> None:
    campaign_id = load_seed(tmp_path / "plan")
    for code in DEPARTMENTS:
        submit(code, local("2015-11-20 10:00"), accept=True)
    first = sweep(campaign_id, local("2015-11-21 09:00"))
    correction = submit("LDLD-Q1-BTG", local("2015-11-23 08:00"))
    waiting = sweep(campaign_id, local("2015-11-23 09:00"))  # v2 not reviewed: v1 still counts
    accept(correction, local("2015-11-23 10:00"))
    corrected = sweep(campaign_id, local("2015-11-23 10:10"))

    assert (len(first.claimed), len(waiting.claimed), len(corrected.claimed)) == (1, 0, 1)
    assert first.claimed[0].state_key != corrected.claimed[0].state_key
    assert completions() == [("ban-chuyen-de", "complete")] * 2


def test_an_incomplete_requirement_is_cut_off_once_at_the_cutoff(
    folder: Path, tmp_path: Path
) -> None:
    campaign_id = load_seed(tmp_path / "plan")
    submit("Q1-CD001", local("2015-11-24 10:00"), accept=True)
    cut = local("2015-11-26 00:00")  # Tue 24/11 + 2 working days

    before = sweep(campaign_id, cut - timedelta(seconds=1))
    at = sweep(campaign_id, cut)
    later = sweep(campaign_id, cut + timedelta(hours=9))

    assert (before.claimed, later.claimed) == ([], [])
    [claim] = at.claimed
    assert (claim.requirement_code, claim.reason) == ("cdcs", CUTOFF)
    assert completions() == [("cdcs", "cutoff")]


STALE = [
    ("on time", timedelta(seconds=3), False),
    ("a little late", timedelta(minutes=14), False),
    ("a catch-up after downtime", timedelta(minutes=16), True),
]


@pytest.mark.parametrize(("late", "stale"), [c[1:] for c in STALE], ids=[c[0] for c in STALE])
def test_a_run_scheduled_long_ago_is_skipped(late: timedelta, stale: bool) -> None:
    started = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    assert is_stale(started - late, started, timedelta(minutes=15)) is stale
    assert is_stale(None, started, timedelta(minutes=15)) is False
