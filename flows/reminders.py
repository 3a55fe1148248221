"""Send reminders: every 15 minutes in working hours (prefect.yaml). A thin story:

0. skip a run left over after downtime (the rules would drop stale steps anyway);
1. put back what a crashed dispatcher left (claimed → pending; sending → unknown, flagged);
2. plan each active campaign's due steps into the outbox (one task per campaign);
3. dispatch what is due, paced per channel (one task, up to 500 rows; the rest goes out on
   the next tick or by dispatch-outbox);
4. publish a summary artifact.
Whatever the number of units: 3 + campaigns task runs a tick (recover, the active campaigns,
one plan per campaign, dispatch); tests/test_reminders_flow_runs.py counts them."""

from __future__ import annotations

import socket
from collections import Counter
from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from dondoc.db import get_engine
from dondoc.outbox import recover
from dondoc.remindrun import dispatch_due, plan_and_enqueue
from dondoc.settings import get_settings
from flows.tracking import active_campaigns, is_stale

STALE_CLAIM = timedelta(minutes=15)


@task(cache_policy=NO_CACHE)
def recover_stale(now: datetime) -> tuple[int, int]:
    return recover(get_engine(), now=now, stale_after=STALE_CLAIM)


@task(cache_policy=NO_CACHE)
def plan_campaign_task(campaign_id: int, now: datetime) -> tuple[int, int]:
    """(rows added to the outbox, units skipped) — idempotent: a step is planned once."""
    added, plan = plan_and_enqueue(get_engine(), campaign_id, now=now, settings=get_settings())
    return added, len(plan.skipped)


@task(cache_policy=NO_CACHE)
def dispatch_task(now: datetime, worker: str) -> dict[str, int]:
    return dict(dispatch_due(get_engine(), now=now, settings=get_settings(), worker=worker))


@flow(name="send-reminders")
def send_reminders(now: datetime | None = None, max_lateness_minutes: int = 20) -> dict[str, int]:
    logger = get_run_logger()
    started = datetime.now(UTC)
    if is_stale(flow_run.scheduled_start_time, started, timedelta(minutes=max_lateness_minutes)):
        logger.warning("skipped: a catch-up run after downtime")
        return {}
    moment = now or started
    requeued, unknown = recover_stale(moment)  # 1
    planned: Counter[str] = Counter()
    for campaign_id, code in active_campaigns():  # 2
        added, skipped = plan_campaign_task(campaign_id, moment)
        planned[f"{code} planned"] += added
        planned[f"{code} skipped"] += skipped
    worker = f"{socket.gethostname()}:{flow_run.id or 'local'}"
    sent = dispatch_task(moment, worker)  # 3
    summary = dict(planned) | sent | {"requeued": requeued, "unknown": unknown}
    create_markdown_artifact(  # 4
        key="reminders-summary",
        markdown="\n".join(f"- {k}: {v}" for k, v in sorted(summary.items())),
        description=f"Reminders at {moment.isoformat()}",
    )
    return summary


@flow(name="dispatch-outbox")
def dispatch_outbox(now: datetime | None = None) -> dict[str, int]:
    """Every few minutes, day and night: what is due in the outbox goes out — receipts, return
    notices, alerts, the office's consolidation emails — without waiting for the next
    reminder tick. A reminder that comes due out of hours (a retry, a deferral) is put back
    to the unit's next allowed moment by the re-check at send time, so none goes out of hours."""
    moment = now or datetime.now(UTC)
    requeued, unknown = recover_stale(moment)  # 1. what a crashed dispatcher left
    worker = f"{socket.gethostname()}:{flow_run.id or 'local'}"
    return dispatch_task(moment, worker) | {"requeued": requeued, "unknown": unknown}  # 2.
