"""What a consolidation report is built from: plain values, so that the flow (or a test) fills
it from the database and the builders never touch one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dondoc.rules.aggregate import Aggregate, IndicatorRuleLike, UnitFigures
from dondoc.rules.deadlines import VN_TZ
from dondoc.rules.status import Status, is_submitted

# (unit name, the text it wrote under the heading)
Contribution = tuple[str, str]
# (outline heading, what the units wrote under it)
Section = tuple[str, Sequence[Contribution]]


@dataclass(frozen=True)
class StatusRow:
    unit_code: str
    unit_name: str
    group: str
    status: Status
    submitted_at: dt.datetime | None = None  # aware; the latest version's receipt
    version: int | None = None


@dataclass(frozen=True)
class StatusCounts:
    expected: int  # not exempt
    submitted: int
    on_time: int
    late: int
    missing: int
    exempt: int

    def summary_vi(self) -> str:
        text = (
            f"Đã nộp {self.submitted}/{self.expected}; đúng hạn {self.on_time}; "
            f"trễ hạn {self.late}; chưa nộp {self.missing}"
        )
        return text + (f"; miễn nộp {self.exempt}." if self.exempt else ".")


@dataclass(frozen=True)
class ReportInput:
    parent_body: str  # "LIÊN ĐOÀN LAO ĐỘNG TP. HỒ CHÍ MINH"
    issuer: str  # "LIÊN ĐOÀN LAO ĐỘNG QUẬN 1"
    number: str  # "…/BC-LĐLĐ" while the office has not numbered the draft
    place: str  # "Quận 1"
    report_date: dt.date
    summary: str  # trích yếu
    sections: Sequence[Section]
    aggregate: Aggregate
    indicators: Sequence[IndicatorRuleLike]  # in the plan's order
    units: Sequence[UnitFigures]
    status_rows: Sequence[StatusRow]
    distribution: Sequence[str]  # Nơi nhận, one recipient a line
    signer_title: str  # "TM. BAN THƯỜNG VỤ\nCHỦ TỊCH"
    signer_name: str
    title: str = "BÁO CÁO"
    # The outline heading the targets table goes under ("II.6. Kết quả thực hiện các chỉ
    # tiêu …"); None: under its own heading after the sections.
    targets_section: str | None = None
    tz: ZoneInfo = VN_TZ

    @property
    def missing_units(self) -> list[StatusRow]:
        """Expected units that have nothing counted: never submitted, or returned for correction."""
        rows = self.status_rows
        return [r for r in rows if r.status is not Status.EXEMPT and not is_submitted(r.status)]

    def counts(self) -> StatusCounts:
        rows = self.status_rows
        exempt = sum(r.status is Status.EXEMPT for r in rows)
        on_time = sum(r.status is Status.ON_TIME for r in rows)
        late = sum(r.status is Status.LATE for r in rows)
        expected = len(rows) - exempt
        submitted = on_time + late
        return StatusCounts(expected, submitted, on_time, late, expected - submitted, exempt)

    @property
    def fixed_moment(self) -> dt.datetime:
        """Written as the files' created/modified time: the same inputs give the same bytes."""
        return dt.datetime.combine(self.report_date, dt.time(0), tzinfo=dt.UTC)


def ordered_rows(rows: Sequence[StatusRow]) -> list[StatusRow]:
    return sorted(rows, key=lambda r: (r.group, r.unit_code))


def local_time(moment: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    """Naive local time, as spreadsheets and documents show it."""
    return moment.astimezone(tz).replace(tzinfo=None) if moment else None
