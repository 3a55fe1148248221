"""Figures and verdicts as a Vietnamese report writes them: "13.800.000 đồng", "95,83%",
"30/45 đơn vị (66,67%)", "Đạt"."""

from __future__ import annotations

import re
from decimal import Decimal

from dondoc.labels import SECTOR_LABELS_VI
from dondoc.rules.aggregate import COUNT_RULES, RATIO, UNCLASSIFIED, IndicatorTotal, TargetResult
from dondoc.rules.figures import format_number

NO_FIGURE = "–"
MET_VI = {True: "Đạt", False: "Không đạt", None: "Chưa đủ số liệu"}
DIRECTION_VI = {">=": "≥", "<=": "≤"}
# Where an organisation's name turns to its place: "LIÊN ĐOÀN LAO ĐỘNG | TP. HỒ CHÍ MINH".
_PLACE = re.compile(r"\s(?=(?:THÀNH PHỐ|TP\.|TỈNH|QUẬN|HUYỆN|THỊ XÃ|PHƯỜNG|XÃ)\s)")


def amount(value: Decimal | None, unit: str | None = None) -> str:
    """A unit that starts with "%" sticks to the number ("90% CĐCS"); others follow a space."""
    if value is None:
        return NO_FIGURE
    text = format_number(value)
    if not unit:
        return text
    return f"{text}{unit}" if unit.startswith("%") else f"{text} {unit}"


def total_text(total: IndicatorTotal) -> str:
    if total.rule in COUNT_RULES:
        if total.denominator is None:
            return NO_FIGURE
        share = amount(total.value, "%")
        return f"{total.count}/{format_number(total.denominator)} đơn vị ({share})"
    if total.rule == RATIO and total.numerator is not None and total.denominator is not None:
        parts = f"{format_number(total.numerator)}/{format_number(total.denominator)}"
        return f"{amount(total.value, total.unit)} ({parts})"
    return amount(total.value, total.unit)


def target_text(result: TargetResult) -> str:
    sign = DIRECTION_VI.get(result.direction, result.direction)
    return f"{sign} {amount(result.target, result.unit)}"


def sector_vi(name: str) -> str:
    if name == UNCLASSIFIED:
        return "Chưa phân loại"
    return SECTOR_LABELS_VI.get(name, name)


def signer_lines(title: str) -> list[str]:
    """ "TM. BAN THƯỜNG VỤ\\nCHỦ TỊCH" as the plan stores it, one line each."""
    return [line.strip() for line in title.splitlines() if line.strip()]


def recipient_lines(recipients: list[str]) -> list[str]:
    """Decree 30: each recipient after a dash, ";" after each but the last, which takes "."."""
    cleaned = [r.strip().rstrip(";.").strip() for r in recipients if r.strip()]
    return [f"- {r}{'.' if n == len(cleaned) - 1 else ';'}" for n, r in enumerate(cleaned)]


def org_lines(name: str, width: int = 26) -> list[str]:
    """A name for the issuer block, in capitals: the caller's own line breaks if any; else a name
    longer than `width` characters (what fits the 72 mm column at 13 pt) is broken once before
    its place, rather than wherever the word processor runs out of room."""
    lines = [line.strip().upper() for line in name.splitlines() if line.strip()]
    if len(lines) != 1 or len(lines[0]) <= width:
        return lines
    parts = _PLACE.split(lines[0], maxsplit=1)
    return [part.strip() for part in parts]
