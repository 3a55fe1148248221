"""What a consolidation version tells people: a summary (for the Prefect artifact, the CLI and
the office's email) and the email itself, one outbox row per office address and version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from dondoc.consolidation import files_of
from dondoc.digest import office_addresses
from dondoc.outbox import NewDelivery, enqueue
from dondoc.reports.model import StatusCounts
from dondoc.rules.status import Status, is_submitted
from dondoc.settings import Settings
from dondoc.tracking import campaign_status
from models import Campaign, Consolidation, Requirement

REASONS_VI = {
    "complete": "đã đủ báo cáo",
    "cutoff": "đến hạn chốt tổng hợp",
    "manual": "theo yêu cầu của Văn phòng",
}
KINDS_VI = {
    "workbook": "Bảng tổng hợp số liệu (XLSX)",
    "document": "Dự thảo báo cáo (DOCX)",
    "archive": "Báo cáo của các đơn vị (ZIP)",
}
_LISTED = 30  # missing units named in the email; the workbook lists them all


@dataclass(frozen=True)
class Summary:
    consolidation_id: int
    campaign_id: int
    campaign_code: str
    plan_number: str
    requirement_code: str
    requirement_title: str
    version: int
    reason: str
    as_of: datetime
    counts: StatusCounts
    missing_units: list[tuple[str, str]]  # (code, name)
    files: list[tuple[str, str]]  # (kind, file name)


def summarise(session: Session, row: Consolidation) -> Summary:
    requirement = session.get_one(Requirement, row.requirement_id)
    campaign = session.get_one(Campaign, requirement.campaign_id)
    statuses = campaign_status(session, campaign, now=row.as_of, requirement=requirement.code)
    missing = [
        (s.unit_code, s.unit_name)
        for s in statuses
        if s.status is not Status.EXEMPT and not is_submitted(s.status)
    ]
    return Summary(
        row.id or 0, campaign.id or 0, campaign.code, campaign.doc_number,
        requirement.code, requirement.title, row.version, row.reason, row.as_of,
        StatusCounts(row.expected, row.submitted, row.on_time, row.late, row.missing, row.exempt),
        missing, [(f.kind, f.name) for f in files_of(session, row.id or 0)],
    )  # fmt: skip


def summary_markdown(s: Summary, tz: ZoneInfo) -> str:
    lines = [
        f"# Tổng hợp {s.requirement_code} ({s.campaign_code}), lần {s.version}",
        "",
        f"Lý do: {REASONS_VI.get(s.reason, s.reason)}, số liệu tính đến "
        f"{s.as_of.astimezone(tz):%H:%M %d/%m/%Y}.",
        "",
        s.counts.summary_vi(),
        "",
        "| Tệp | Tên tệp |",
        "|---|---|",
        *(f"| {KINDS_VI.get(kind, kind)} | {name} |" for kind, name in s.files),
    ]
    if s.missing_units:
        lines += ["", "## Đơn vị chưa có báo cáo được tổng hợp", ""]
        lines += [f"- {code} – {name}" for code, name in s.missing_units]
    return "\n".join(lines)


def file_url(base_url: str, consolidation_id: int, kind: str) -> str:
    return f"{base_url}/office/consolidations/{consolidation_id}/files/{kind}"


def notice_text(s: Summary, *, tz: ZoneInfo, base_url: str) -> tuple[str, str]:
    """(subject, body) of the office's email, in Vietnamese."""
    subject = f"Bản tổng hợp lần {s.version}: {s.requirement_title} ({s.plan_number})"
    lines = [
        "Kính gửi Văn phòng,",
        "",
        f"Hệ thống đã tổng hợp báo cáo “{s.requirement_title}” theo {s.plan_number} "
        f"({REASONS_VI.get(s.reason, s.reason)}), số liệu tính đến "
        f"{s.as_of.astimezone(tz):%H:%M ngày %d/%m/%Y}.",
        "",
        s.counts.summary_vi(),
    ]
    if s.missing_units:
        lines += ["", "Đơn vị chưa có báo cáo được tổng hợp:"]
        lines += [f"- {code} – {name}" for code, name in s.missing_units[:_LISTED]]
        if len(s.missing_units) > _LISTED:
            lines.append(f"- … và {len(s.missing_units) - _LISTED} đơn vị khác (xem bảng tổng hợp)")
    lines += ["", "Tải về (cần đăng nhập):"]
    lines += [
        f"- {KINDS_VI.get(kind, kind)}: {file_url(base_url, s.consolidation_id, kind)}"
        for kind, _ in s.files
    ]
    lines += [
        "",
        "Dự thảo báo cáo cần được Văn phòng rà soát, ghi số và trình ký trước khi ban hành.",
        "",
        "Trân trọng.",
    ]
    return subject, "\n".join(lines)


def enqueue_notice(session: Session, consolidation_id: int, *, settings: Settings) -> int:
    """One email per office address and version (the outbox's unique index): a retried flow
    enqueues nothing new."""
    row = session.get_one(Consolidation, consolidation_id)
    summary = summarise(session, row)
    campaign = session.get_one(Campaign, summary.campaign_id)
    subject, body = notice_text(summary, tz=settings.tz, base_url=settings.public_base_url)
    items = [
        NewDelivery(
            campaign_id=summary.campaign_id,
            assignment_id=None,
            step_key=f"consolidation-{consolidation_id}",
            deadline_version=0,
            kind="consolidation",
            channel="email",
            recipient=contact.email or "",
            contact_role=contact.role,
            subject=subject,
            body=body,
            not_before=row.as_of,
        )
        for contact in office_addresses(session, campaign)
    ]
    return enqueue(session, items, now=row.created_at)
