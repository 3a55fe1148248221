"""Track submissions: every 10 minutes (prefect.yaml), for each active campaign, take in the
watched folder, recompute statuses at `now`, claim completions, then show and tell Prefect.

One flow run makes 1 + 3 task runs per active campaign, whatever the number of units. The
claims live in the database (requirement_completion), so overlapping or repeated runs start
one consolidation per complete state; events are emitted only for claims this run won."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.events import emit_event
from prefect.runtime import flow_run
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from dondoc.completion import Claim, Progress, claim_completions
from dondoc.consolidation import stalled_claims
from dondoc.db import session_scope
from dondoc.errors import DondocError
from dondoc.rules.deadlines import format_deadline_vi
from dondoc.rules.status import STATUS_LABELS_VI, Status
from dondoc.settings import Settings, get_settings
from dondoc.tracking import StatusRow, campaign_status
from dondoc.watchfolder import IntakeResult, intake_folder, watch_config
from flows.consolidate import consolidate
from flows.keys import artifact_key
from models import Campaign
from models.enums import CampaignStatus

RECEIVED_EVENT = "dondoc.submission.received"
COMPLETED_EVENT = "dondoc.requirement.completed"
# The event trigger starts a consolidation within seconds; a claim left this long without one
# is started by the tracking flow itself.
STALLED_AFTER = timedelta(minutes=15)
MISSING_OR_LATE = (Status.OVERDUE, Status.LATE, Status.RETURNED)


class TrackingError(DondocError):
    """A campaign's sweep failed; the other campaigns were swept all the same."""


@dataclass(frozen=True)
class CampaignSweep:
    campaign_id: int
    campaign_code: str
    statuses: list[StatusRow]
    progress: list[Progress]
    claimed: list[Claim]  # won by this sweep
    intake: IntakeResult


@flow(name="track-submissions")
def track_submissions(
    now: datetime | None = None, max_lateness_minutes: int = 15, settle_seconds: float = 60
) -> list[CampaignSweep]:
    """`now` defaults to the clock (a naive value is local time); files younger than
    `settle_seconds` are left for the next run (still being copied)."""
    logger = get_run_logger()
    started = datetime.now(UTC)
    # 0. After downtime the worker starts every missed run at once: the latest one suffices.
    scheduled = flow_run.scheduled_start_time
    if is_stale(scheduled, started, timedelta(minutes=max_lateness_minutes)):
        logger.warning("skipped: scheduled for %s, a catch-up after downtime", scheduled)
        return []
    tz = get_settings().tz
    moment = (now if now.tzinfo else now.replace(tzinfo=tz)) if now else started
    sweeps, failed = [], []
    for campaign_id, code in active_campaigns():  # 1. which campaigns
        state = sweep_campaign(campaign_id, code, moment, settle_seconds, return_state=True)
        if state.is_failed():  # 2. intake, statuses, claims; one campaign does not stop others
            failed.append(code)
            continue
        sweep = state.result()
        emit_events(sweep)  # 3. received submissions, newly claimed completions
        publish_artifacts(sweep, tz.key)  # 4. progress, missing and late units, summary
        sweeps.append(sweep)
    # 5. A claim whose consolidation never started (its event lost, the trigger off): start
    # it here; drafting is once per claim, so a late trigger run finds it done.
    for requirement_id, state_key in stalled(moment - STALLED_AFTER):
        consolidate(requirement_id, state_key)
    if failed:
        raise TrackingError(f"the sweep failed for {', '.join(failed)} (see its task run)")
    return sweeps


def is_stale(scheduled: datetime | None, started: datetime, max_lateness: timedelta) -> bool:
    return scheduled is not None and started - scheduled > max_lateness


def _transient(task: Any, task_run: Any, state: State[Any]) -> bool:
    """Retry a lost or busy database only; any other error fails at once."""
    return isinstance(state.data, OperationalError)


@task(cache_policy=NO_CACHE)
def stalled(seen_before: datetime) -> list[tuple[int, str]]:
    with session_scope() as session:
        return stalled_claims(session, seen_before=seen_before)


@task(cache_policy=NO_CACHE)
def active_campaigns() -> list[tuple[int, str]]:
    with session_scope() as session:
        rows = session.exec(
            select(Campaign.id, Campaign.code)
            .where(Campaign.status == CampaignStatus.ACTIVE.value)
            .order_by(col(Campaign.id))
        )
        return [(cid or 0, code) for cid, code in rows]


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=20, retry_condition_fn=_transient)
def sweep_campaign(
    campaign_id: int, campaign_code: str, now: datetime, settle_seconds: float = 60
) -> CampaignSweep:
    """Idempotent: the watched files are recorded once by source_ref, the claims once by
    state, so a retry or an overlapping run changes nothing twice."""
    settings = get_settings()
    intake = _intake(settings, campaign_id, campaign_code, now, settle_seconds)
    with session_scope() as session:
        campaign = session.get_one(Campaign, campaign_id)
        statuses = campaign_status(session, campaign, now=now)
        progress, claimed = claim_completions(
            session, campaign, now=now, tz=settings.tz, flow_run_id=flow_run.id
        )
    _log(campaign_code, intake, claimed)
    return CampaignSweep(campaign_id, campaign_code, statuses, progress, claimed, intake)


def _intake(
    settings: Settings, campaign_id: int, code: str, now: datetime, settle_seconds: float
) -> IntakeResult:
    if settings.watch_dir is None:
        return IntakeResult()
    if not settings.watch_dir.is_dir():
        get_run_logger().warning("watch_dir %s is missing (share not mounted?)", settings.watch_dir)
        return IntakeResult()
    return intake_folder(campaign_id, watch_config(settings, code, settle_seconds), now=now)


def _log(code: str, intake: IntakeResult, claimed: list[Claim]) -> None:
    logger = get_run_logger()
    logger.info(
        "%s: %d file(s) recorded, %d recorded before, %d rejected; %d completion(s) claimed",
        *(code, len(intake.recorded), len(intake.duplicates), len(intake.rejected), len(claimed)),
    )
    for name, reason in intake.rejected.items():
        logger.warning("%s: rejected %s: %s", code, name, reason)


@task(cache_policy=NO_CACHE)
def emit_events(sweep: CampaignSweep) -> None:
    campaign = {
        "prefect.resource.id": f"dondoc.campaign.{sweep.campaign_id}",
        "prefect.resource.role": "campaign",
        "prefect.resource.name": sweep.campaign_code,
    }
    for r in sweep.intake.recorded:
        emit_event(
            RECEIVED_EVENT,
            resource={"prefect.resource.id": f"dondoc.submission.{r.submission_id}"},
            related=[campaign],
            payload={"campaign_id": sweep.campaign_id, "channel": "email", **vars(r)},
        )
    for claim in sweep.claimed:
        emit_event(
            COMPLETED_EVENT,
            resource={
                "prefect.resource.id": f"dondoc.requirement.{claim.requirement_id}",
                "prefect.resource.name": claim.requirement_code,
            },
            related=[campaign],
            payload={"campaign_id": sweep.campaign_id, **vars(claim)},
        )


@task(cache_policy=NO_CACHE)
def publish_artifacts(sweep: CampaignSweep, tz_name: str) -> None:
    """Stable keys: the UI shows the latest version of each."""
    tz = ZoneInfo(tz_name)
    for p in sweep.progress:
        create_progress_artifact(
            progress=percent(p),
            key=artifact_key("progress", sweep.campaign_code, p.requirement_code),
            description=f"{p.requirement_code}: {p.done}/{p.required} đơn vị đã hoàn thành"
            + (" — đã đủ" if p.complete else ""),
        )
    create_table_artifact(
        missing_and_late(sweep.statuses, tz),
        key=artifact_key("missing-late", sweep.campaign_code),
        description=f"{sweep.campaign_code}: đơn vị chưa nộp, nộp trễ hoặc bị trả lại",
    )
    create_markdown_artifact(
        summary_markdown(sweep),
        key=artifact_key("status", sweep.campaign_code),
        description=f"{sweep.campaign_code}: tình hình nộp báo cáo",
    )


def percent(p: Progress) -> float:
    return round(100 * p.done / p.required, 1) if p.required else 100.0


def missing_and_late(rows: list[StatusRow], tz: ZoneInfo) -> list[dict[str, str]]:
    return [
        {
            "Yêu cầu": r.requirement_code,
            "Mã đơn vị": r.unit_code,
            "Đơn vị": r.unit_name,
            "Tình trạng": STATUS_LABELS_VI[r.status],
            "Hạn nộp": format_deadline_vi(r.due_at, tz) + (" (gia hạn)" if r.extended else ""),
            "Nộp lần cuối": (
                f"{r.last_received_at.astimezone(tz):%H:%M %d/%m/%Y}" if r.last_received_at else ""
            ),
        }
        for r in rows
        if r.status in MISSING_OR_LATE
    ]


def summary_markdown(sweep: CampaignSweep) -> str:
    lines = [
        f"# {sweep.campaign_code}",
        "",
        "| Yêu cầu | Tình trạng | Số đơn vị |",
        "|---|---|---|",
    ]
    for p in sweep.progress:
        counts: dict[Status, int] = {}
        for r in sweep.statuses:
            if r.requirement_code == p.requirement_code:
                counts[r.status] = counts.get(r.status, 0) + 1
        lines += [
            f"| {p.requirement_code} | {STATUS_LABELS_VI[s]} | {counts[s]} |"
            for s in Status
            if s in counts
        ]
    intake = sweep.intake
    lines += [
        "",
        f"Thư mục theo dõi: {len(intake.recorded)} tệp mới, {len(intake.rejected)} bị từ chối.",
    ]
    lines += [f"- {name}: {reason}" for name, reason in intake.rejected.items()]
    return "\n".join(lines) + "\n"
