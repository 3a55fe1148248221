"""The office's daily digest and the ready-to-paste text for its own Zalo group: plain values in,
text out (the wording lives in templates/digest.*.j2 and zalo_group.txt.j2). What each unit
reads is in notifications.messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from dondoc.labels import CHANNEL_LABELS_VI
from dondoc.rules.status import STATUS_LABELS_VI, Status
from notifications.messages import Rendered, aware, render_pair, render_text
from notifications.zalo import quota_low


@dataclass(frozen=True)
class DigestUnit:
    code: str
    name: str
    status: Status
    due_at: datetime
    last_reminded_at: datetime | None
    reminders_sent: int
    no_contact: bool
    # When the unit's chair was first written to (the escalation step), if it was.
    escalated_at: datetime | None = None


@dataclass(frozen=True)
class ZaloQuota:
    """The Official Account's daily quota as Zalo last stated it (dondoc.zalotokens)."""

    remaining: int
    daily: int
    at: datetime

    @property
    def low(self) -> bool:
        return quota_low(self.daily, self.remaining)  # as the alert reads it


@dataclass(frozen=True)
class DigestInput:
    campaign_title: str
    plan_number: str
    office_name: str
    now: datetime
    tz: ZoneInfo
    requirement_lines: list[tuple[str, dict[Status, int]]]
    units: list[DigestUnit]
    sent_today: list[tuple[str, str, str]]  # unit, kind label, channel
    # Messages whose outcome is unknown (Zalo may have them): unit, kind label, channel.
    unknown: list[tuple[str, str, str]] = field(default_factory=list)
    zalo_quota: ZaloQuota | None = None  # None: no Zalo, or not read yet


@dataclass(frozen=True)
class _Group:
    status: Status
    label: str
    units: list[DigestUnit]


_PROBLEMS: Final = (Status.OVERDUE, Status.RETURNED, Status.LATE)


_MISSING: Final = frozenset({Status.PENDING, Status.OVERDUE, Status.RETURNED})


_COUNTED: Final = (*_PROBLEMS, Status.ON_TIME, Status.PENDING, Status.EXEMPT)


_REACHABLE: Final = frozenset(Status) - {Status.EXEMPT}


def render_digest(d: DigestInput) -> Rendered:
    """Overdue, returned and late units first, with those still missing after their chair was
    written to (for the standing committee), then counts per requirement, what was sent today,
    and the units no reminder can reach."""
    sent = [(unit, kind, _channel_vi(channel)) for unit, kind, channel in d.sent_today]
    values = _campaign_values(d) | {
        "problems": [_Group(s, STATUS_LABELS_VI[s], _units_in(d.units, {s})) for s in _PROBLEMS],
        "escalated": _units_in([u for u in d.units if u.escalated_at], _MISSING),
        "requirements": [_counts(title, counts) for title, counts in d.requirement_lines],
        "sent": sent,
        "sent_totals": Counter((kind, channel) for _, kind, channel in sent).most_common(),
        "no_contact": _units_in([u for u in d.units if u.no_contact], _REACHABLE),
        "unknown": [(unit, kind, _channel_vi(channel)) for unit, kind, channel in d.unknown],
        "zalo_quota": d.zalo_quota,
        # Read before today (the digest goes out before the day's messages): the quota has
        # been renewed since, so it is yesterday's use, not what is left.
        "zalo_quota_today": d.zalo_quota is not None and _same_day(d.zalo_quota.at, d.now, d.tz),
        "labels": STATUS_LABELS_VI,
    }
    return render_pair("digest", values)


def render_zalo_group_text(d: DigestInput) -> str:
    """For the office's own Zalo group: the units still missing (not submitted, or returned),
    numbered under their deadline. Names only: no links, codes or contacts."""
    missing = _units_in(d.units, _MISSING)
    values = _campaign_values(d) | {
        "groups": _numbered_by_deadline(missing),
        "any_returned": any(u.status is Status.RETURNED for u in missing),
    }
    return render_text("zalo_group.txt.j2", values)


def _campaign_values(d: DigestInput) -> dict[str, object]:
    aware(d.now)  # a naive moment fails here, not in a template
    return {
        "campaign_title": d.campaign_title,
        "plan_number": d.plan_number,
        "office_name": d.office_name,
        "now": d.now,
        "tz": d.tz,
    }


def _units_in(units: Iterable[DigestUnit], statuses: Iterable[Status]) -> list[DigestUnit]:
    wanted = frozenset(statuses)
    return sorted((u for u in units if u.status in wanted), key=lambda u: (u.due_at, u.code))


def _numbered_by_deadline(
    units: list[DigestUnit],
) -> list[tuple[datetime, list[tuple[int, DigestUnit]]]]:
    groups: dict[datetime, list[tuple[int, DigestUnit]]] = {}
    for number, unit in enumerate(units, start=1):
        groups.setdefault(unit.due_at, []).append((number, unit))
    return list(groups.items())


def _counts(title: str, counts: Mapping[Status, int]) -> tuple[str, list[tuple[str, int]], int]:
    lines = [(STATUS_LABELS_VI[s], counts.get(s, 0)) for s in _COUNTED]
    return title, lines, sum(counts.values())


def _channel_vi(channel: str) -> str:
    return CHANNEL_LABELS_VI.get(channel, channel)


def _same_day(a: datetime, b: datetime, tz: ZoneInfo) -> bool:
    return a.astimezone(tz).date() == b.astimezone(tz).date()
