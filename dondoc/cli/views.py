"""Printing for the CLI (English labels, local times)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from dondoc.cli.queries import CampaignSummary
from dondoc.plans.loader import LoadResult
from dondoc.privacy import mask_contact
from dondoc.reminding import Plan
from dondoc.rules.status import Status
from dondoc.tracking import StatusRow, count_by_status
from models import Campaign, ZaloToken

STATUS_EN = {
    Status.PENDING: "pending",
    Status.ON_TIME: "on time",
    Status.LATE: "late",
    Status.OVERDUE: "overdue (missing)",
    Status.RETURNED: "returned for correction",
    Status.EXEMPT: "exempt",
}
STATUS_STYLE = {
    Status.ON_TIME: "green",
    Status.LATE: "yellow",
    Status.OVERDUE: "bold red",
    Status.RETURNED: "magenta",
    Status.EXEMPT: "dim",
}


def local(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "-"


def local_deadline(due: datetime, tz: ZoneInfo) -> str:
    """The end of a day is stored as the next midnight; people read it as 23:59 of the day."""
    moment = due.astimezone(tz)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        moment -= timedelta(minutes=1)
    return moment.strftime("%Y-%m-%d %H:%M")


def print_load_result(console: Console, r: LoadResult) -> None:
    verb = "created" if r.created else "updated"
    console.print(
        f"plan {r.campaign_code} {verb}: {r.requirements} requirement(s), "
        f"{r.assignments} assignment(s); units: {r.units_created} created, "
        f"{r.units_updated} updated"
    )
    for warning in r.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def print_campaigns(console: Console, rows: Sequence[CampaignSummary], tz: ZoneInfo) -> None:
    if not rows:
        console.print("no campaigns yet: load one with `dondoc plan load FILE`")
        return
    table = Table(
        "code", "number", "issuer", "status", "requirements", "units", "last deadline", "title"
    )
    for r in rows:
        table.add_row(
            r.code,
            r.doc_number,
            r.issuer,
            r.status,
            str(r.requirements),
            str(r.assignments),
            local_deadline(r.last_due, tz) if r.last_due else "-",
            r.title,
        )
    console.print(table)


def summary_line(rows: Sequence[StatusRow]) -> str:
    counts = count_by_status(list(rows))
    due = len(rows) - counts[Status.EXEMPT]
    done = counts[Status.ON_TIME] + counts[Status.LATE]
    parts = [f"{counts[s]} {STATUS_EN[s]}" for s in Status if counts[s]]
    return f"{done}/{due} submitted — " + ", ".join(parts)


def print_status(
    console: Console,
    campaign: Campaign,
    rows: Sequence[StatusRow],
    *,
    now: datetime,
    tz: ZoneInfo,
    only: Status | None,
) -> None:
    console.print(f"[bold]{campaign.code}[/] {campaign.doc_number} — {campaign.title}")
    console.print(f"as of {local(now, tz)} ({tz.key})")
    for code in dict.fromkeys(r.requirement_code for r in rows):
        console.print(f"  {code}: {summary_line([r for r in rows if r.requirement_code == code])}")
    shown = [r for r in rows if only is None or r.status == only]
    table = Table("requirement", "unit", "name", "status", "deadline", "last submission")
    for r in shown:
        deadline = local_deadline(r.due_at, tz) + (" (extended)" if r.extended else "")
        last = (
            f"{local(r.last_received_at, tz)} v{r.last_version} {r.last_channel}"
            if r.last_received_at
            else "-"
        )
        style = STATUS_STYLE.get(r.status, "")
        table.add_row(
            r.requirement_code,
            r.unit_code,
            r.unit_name,
            f"[{style}]{STATUS_EN[r.status]}[/]" if style else STATUS_EN[r.status],
            deadline,
            last,
        )
    console.print(table)


def print_reminder_plan(console: Console, plan: Plan, *, now: datetime, tz: ZoneInfo) -> None:
    console.print(f"as of {local(now, tz)} ({tz.key}): {len(plan.deliveries)} message(s)")
    table = Table("unit", "step", "kind", "channel", "to", "send from")
    for d in plan.deliveries:
        table.add_row(
            d.params.get("unit_code", "") or str(d.assignment_id),
            d.step_key,
            d.kind,
            d.channel,
            mask_contact(d.recipient),
            local(d.not_before, tz),
        )
    console.print(table)
    reasons = Counter(s.reason for s in plan.skipped)
    console.print("skipped: " + (", ".join(f"{n} {r}" for r, n in reasons.items()) or "none"))
    for s in plan.skipped:
        if s.reason == "no_contact":
            console.print(f"  no usable contact: {s.unit_code} ({s.requirement_code})")
    if plan.skipped:  # who is skipped and why, unit by unit
        skipped = Table("unit", "requirement", "reason")
        for s in sorted(plan.skipped, key=lambda s: (s.reason, s.requirement_code, s.unit_code)):
            skipped.add_row(s.unit_code, s.requirement_code, s.reason)
        console.print(skipped)


def zalo_status_line(row: ZaloToken, tz: ZoneInfo) -> str:
    state = "must be re-authorised" if row.needs_reauthorisation else "usable"
    quota = (
        f"quota {row.quota_remaining}/{row.quota_daily} left at {local(row.quota_at, tz)}"
        if row.quota_at is not None
        else "quota not read yet (no message sent)"
    )
    return (
        f"app {row.app_id}: token pair {state}, version {row.version}, access token expires "
        f"{local(row.expires_at, tz)}; {quota}"
    )
