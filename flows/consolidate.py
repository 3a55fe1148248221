"""Consolidate a requirement: started by the `dondoc.requirement.completed` event through the
trigger of the `consolidate` deployment (prefect.yaml), once per claimed state.

Issue 5 drafts the consolidated report here. For now the flow checks the claim and publishes
the manifest the drafting will work from: each unit's counted version, the exemptions and, after
a cut-off, the units still missing. It writes nothing, so an event delivered twice is harmless."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from sqlmodel import col, select

from dondoc.completion import EXEMPT, counted_version, load_requirements
from dondoc.db import session_scope
from dondoc.errors import DondocError
from dondoc.settings import get_settings
from flows.tracking import artifact_key
from models import Assignment, Campaign, Requirement, RequirementCompletion, Unit


class ConsolidationError(DondocError):
    pass


@dataclass(frozen=True)
class ManifestLine:
    unit_code: str
    unit_name: str
    counted: str | None  # a version number, EXEMPT, or None (missing at a cut-off)


@dataclass(frozen=True)
class Manifest:
    campaign_code: str
    requirement_code: str
    reason: str
    seen_at: datetime
    lines: list[ManifestLine]


@flow(name="consolidate")
def consolidate(requirement_id: int, state_key: str) -> Manifest:
    manifest = load_manifest(requirement_id, state_key)  # 1. the claim and what it counts
    publish_manifest(manifest)  # 2. visible in the UI until issue 5 drafts the report
    return manifest


@task(cache_policy=NO_CACHE)
def load_manifest(requirement_id: int, state_key: str) -> Manifest:
    """What counted when the state was claimed (versions received by then)."""
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
        requirement = session.get_one(Requirement, requirement_id)
        campaign = session.get_one(Campaign, requirement.campaign_id)
        facts = next(
            f
            for f in load_requirements(session, campaign, now=claim.seen_at)
            if f.requirement_id == requirement_id
        )
        units = {
            aid: (code, name)
            for aid, code, name in session.exec(
                select(Assignment.id, Unit.code, Unit.name)
                .join(Unit, col(Unit.id) == Assignment.unit_id)
                .where(Assignment.requirement_id == requirement_id)
            )
        }
    lines = [
        ManifestLine(
            *units[a.assignment_id],
            counted_version(a, review_required=facts.review_required, now=claim.seen_at),
        )
        for a in facts.assignments
    ]
    lines.sort(key=lambda line: line.unit_code)
    return Manifest(campaign.code, requirement.code, claim.reason, claim.seen_at, lines)


@task(cache_policy=NO_CACHE)
def publish_manifest(manifest: Manifest) -> None:
    tz = get_settings().tz
    reason = "đã đủ báo cáo" if manifest.reason == "complete" else "đến hạn chốt tổng hợp"
    rows = [
        f"| {line.unit_code} | {line.unit_name} | {_counted_vi(line.counted)} |"
        for line in manifest.lines
    ]
    create_markdown_artifact(
        "\n".join(
            [
                f"# Tổng hợp {manifest.requirement_code} ({manifest.campaign_code})",
                "",
                f"Lý do: {reason}, lúc {manifest.seen_at.astimezone(tz):%H:%M %d/%m/%Y}.",
                "",
                "| Mã đơn vị | Đơn vị | Bản được tổng hợp |",
                "|---|---|---|",
                *rows,
            ]
        ),
        key=artifact_key("consolidation", manifest.campaign_code, manifest.requirement_code),
        description=f"{manifest.requirement_code}: các báo cáo được tổng hợp",
    )


def _counted_vi(counted: str | None) -> str:
    if counted is None:
        return "Chưa có"
    return "Miễn nộp" if counted == EXEMPT else f"Lần {counted}"
