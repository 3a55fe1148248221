"""Consolidate a requirement: started by the `dondoc.requirement.completed` event through the
trigger of the `consolidate` deployment (prefect.yaml), once per claimed state.

The drafting is idempotent (one consolidation row per claim, see dondoc.consolidation), so an
event delivered twice or a retried run yields the same version; the office's email is an
outbox row unique per version."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from sqlmodel import select

from dondoc.consolidation import ConsolidationError, consolidate_claim
from dondoc.consolidation_notice import Summary, enqueue_notice, summarise, summary_markdown
from dondoc.db import session_scope
from dondoc.settings import get_settings
from flows.keys import artifact_key
from models import RequirementCompletion

__all__ = ["ConsolidationError", "consolidate"]


@flow(name="consolidate")
def consolidate(requirement_id: int, state_key: str) -> Summary:
    summary = draft(requirement_id, state_key)  # 1. the claim's version, drafted once
    publish(summary)  # 2. visible in the Prefect UI
    notify_office(summary.consolidation_id)  # 3. the office's email, once per version
    return summary


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10)
def draft(requirement_id: int, state_key: str) -> Summary:
    settings = get_settings()
    with session_scope() as session:
        claim = session.exec(
            select(RequirementCompletion).where(
                RequirementCompletion.requirement_id == requirement_id,
                RequirementCompletion.state_key == state_key,
            )
        ).first()
        if claim is None:
            raise ConsolidationError(
                f"requirement {requirement_id} has no completion claim {state_key[:12]}: "
                "consolidations start from the claims of the tracking flow"
            )
        row = consolidate_claim(
            session,
            claim.id or 0,
            now=datetime.now(UTC),
            tz=settings.tz,
            storage_root=settings.effective_storage_dir,
            flow_run_id=str(flow_run.id) if flow_run.id else None,
        )
        return summarise(session, row)


@task(cache_policy=NO_CACHE)
def publish(summary: Summary) -> None:
    create_markdown_artifact(
        summary_markdown(summary, get_settings().tz),
        key=artifact_key("consolidation", summary.campaign_code, summary.requirement_code),
        description=f"{summary.requirement_code}: bản tổng hợp lần {summary.version}",
    )


@task(cache_policy=NO_CACHE)
def notify_office(consolidation_id: int) -> int:
    settings = get_settings()
    with session_scope() as session:
        return enqueue_notice(session, consolidation_id, settings=settings)
