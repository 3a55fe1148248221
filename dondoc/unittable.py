"""A campaign's unit table held in memory: every row in table order with what the filters look
at, filtered, counted and paged without the database.

Built from one SQL query (dondoc.dashboard.build_snapshot) and kept while the data and the
statuses stay the same (dondoc.statuscache); a page view then costs a filter over the rows,
remembered per filter, instead of recomputing 10,000 statuses."""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from dondoc.rules.status import Status
from dondoc.statusquery import TableRow

PER_PAGE = 50
REMEMBERED_FILTERS = 64


@dataclass(frozen=True)
class UnitFilter:
    status: Status | None = None
    requirement: str | None = None
    sector: str | None = None
    ward: str | None = None
    q: str | None = None


@dataclass(frozen=True)
class Page:
    rows: list[TableRow]
    total: int
    number: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass
class RequirementProgress:
    code: str
    title: str
    label: str
    due_at: datetime
    counts: dict[Status, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def expected(self) -> int:
        return self.total - self.counts.get(Status.EXEMPT, 0)

    @property
    def submitted(self) -> int:
        return self.counts.get(Status.ON_TIME, 0) + self.counts.get(Status.LATE, 0)


@dataclass(frozen=True)
class FilterOptions:
    requirements: list[tuple[str, str]]  # (code, label)
    sectors: list[str]
    wards: list[str]


class UnitTable:
    """The rows of one state of the database; `haystacks[i]` is row i's folded code and names."""

    def __init__(self, rows: Sequence[TableRow], haystacks: Sequence[str]) -> None:
        self.rows = tuple(rows)
        self.haystacks = tuple(haystacks)
        self._matches: OrderedDict[UnitFilter, tuple[TableRow, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def matching(self, filters: UnitFilter) -> tuple[TableRow, ...]:
        """The rows the filters keep, in table order (the last filters asked are remembered)."""
        with self._lock:
            if filters in self._matches:
                self._matches.move_to_end(filters)
                return self._matches[filters]
        found = tuple(self._select(filters))
        with self._lock:
            self._matches[filters] = found
            if len(self._matches) > REMEMBERED_FILTERS:
                self._matches.popitem(last=False)
        return found

    def page(self, filters: UnitFilter, number: int, per_page: int = PER_PAGE) -> Page:
        """One page of the filtered rows; a page past the end shows the last one."""
        found = self.matching(filters)
        number = min(max(1, number), max(1, -(-len(found) // per_page)))
        start = (number - 1) * per_page
        return Page(list(found[start : start + per_page]), len(found), number, per_page)

    def _select(self, f: UnitFilter) -> list[TableRow]:
        words = fold(f.q).split() if f.q else []
        return [
            row
            for row, haystack in zip(self.rows, self.haystacks, strict=True)
            if (f.status is None or row.status is f.status)
            and (not f.requirement or row.requirement_code == f.requirement)
            and (not f.sector or row.sector == f.sector)
            and (not f.ward or row.ward == f.ward)
            and all(word in haystack for word in words)
        ]


def _fold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord("đ"): "d", ord("Đ"): "D"}
    table |= {code: None for code in range(0x300, 0x370)}  # stray combining marks
    for code in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        decomposed = unicodedata.normalize("NFD", chr(code))
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if base != chr(code):
            table[code] = base
    return table


_FOLD = _fold_table()


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without diacritics, so that 'ben nghe' finds 'Bến Nghé'. Cached, and a
    translation table rather than per-character normalisation: a search folds every name."""
    return unicodedata.normalize("NFC", text).translate(_FOLD).casefold()


@lru_cache(maxsize=262144)  # a snapshot rebuilt after a change finds its units' here
def haystack(code: str, name: str, short_name: str | None) -> str:
    """What a search looks in: the unit's code, name and short name, folded. People often
    type Vietnamese without diacritics on a phone; neither database drops them."""
    return fold(f"{code} {name} {short_name or ''}")
