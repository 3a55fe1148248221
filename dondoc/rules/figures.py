"""Validating the figures a unit reports against the requirement's indicator definitions.
Pure: definitions and raw text in, parsed values and per-field messages out."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

Value = Decimal | str

# (English for the CLI and logs, Vietnamese for units and the office's pages)
MESSAGES: dict[str, tuple[str, str]] = {
    "unknown": ("no such indicator", "Không có chỉ tiêu này trong biểu mẫu"),
    "derived": ("computed, not entered", "{label} được tính tự động, không cần nhập"),
    "not_applicable": (
        "does not apply to this unit's sector",
        "{label} không áp dụng cho loại hình đơn vị này",
    ),
    "not_integer": ("expected a whole number", "{label} phải là số nguyên"),
    "not_number": ("expected a number", "{label} phải là một số"),
    "not_boolean": ("expected yes or no", "{label}: chọn Có hoặc Không"),
    "bad_choice": ("expected one of {choices}", "{label} phải là một trong: {choices}"),
    "below_min": ("must be at least {bound}", "{label} không được nhỏ hơn {bound}"),
    "above_max": ("must be at most {bound}", "{label} không được lớn hơn {bound}"),
    "exceeds": (
        "must not exceed {other_key} ({other_value})",
        "{label} không được lớn hơn {other_label_lower}",
    ),
}
_YES = {"có", "co", "yes", "y", "true", "1", "x"}
_NO = {"không", "khong", "no", "n", "false", "0"}
_INTEGER = re.compile(r"^-?\d{1,3}(\.\d{3})+$|^-?\d+$")


class IndicatorRule(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def min_value(self) -> Decimal | None: ...
    @property
    def max_value(self) -> Decimal | None: ...
    @property
    def max_of(self) -> str | None: ...
    @property
    def sectors(self) -> list[str] | None: ...
    @property
    def choices(self) -> list[str] | None: ...


@dataclass(frozen=True)
class FigureError:
    key: str
    code: str
    params: dict[str, str]

    def english(self) -> str:
        return MESSAGES[self.code][0].format(**self.params)

    def vietnamese(self) -> str:
        return MESSAGES[self.code][1].format(**self.params)


class _BadFigureError(Exception):
    def __init__(self, code: str, **params: str) -> None:
        self.code, self.params = code, params


def parse_number(text: str, *, integer: bool) -> Decimal:
    """Vietnamese style: '.' groups thousands ('13.800.000'), ',' marks decimals ('12,5')."""
    compact = text.replace(" ", "").replace("\u00a0", "")
    if integer:
        if not _INTEGER.match(compact):
            raise _BadFigureError("not_integer")
        return Decimal(compact.replace(".", ""))
    if _INTEGER.match(compact) and "." in compact and len(compact.split(".")[-1]) == 3:
        compact = compact.replace(".", "")  # "1.250" is one thousand two hundred and fifty
    try:
        number = Decimal(compact.replace(",", "."))
    except InvalidOperation:
        raise _BadFigureError("not_number") from None
    if not number.is_finite():  # Decimal also reads "NaN" and "Infinity"
        raise _BadFigureError("not_number")
    return number


def _parse_one(rule: IndicatorRule, text: str) -> Value:
    if rule.type == "derived":
        raise _BadFigureError("derived")
    if rule.type == "boolean":
        word = unicodedata.normalize("NFC", text.strip()).lower()
        if word in _YES or word in _NO:
            return Decimal(1 if word in _YES else 0)
        raise _BadFigureError("not_boolean")
    if rule.type == "choice":
        wanted = unicodedata.normalize("NFC", text.strip()).casefold()
        for choice in rule.choices or []:
            if choice.casefold() == wanted:
                return choice
        raise _BadFigureError("bad_choice", choices=", ".join(rule.choices or []))
    number = parse_number(text, integer=rule.type in ("integer", "amount_vnd"))
    _check_bounds(rule, number)
    return number


def _check_bounds(rule: IndicatorRule, number: Decimal) -> None:
    low = rule.min_value if rule.min_value is not None else Decimal(0)
    if number < low:
        raise _BadFigureError("below_min", bound=format_number(low))
    if rule.max_value is not None and number > rule.max_value:
        raise _BadFigureError("above_max", bound=format_number(rule.max_value))


def format_number(value: Decimal) -> str:
    """13800000 -> '13.800.000'; 12.5 -> '12,5'."""
    if value == value.to_integral_value():
        return f"{int(value):,}".replace(",", ".")
    whole, _, frac = f"{abs(value).normalize():f}".partition(".")
    sign = "-" if value < 0 else ""  # int("-0") would drop the sign of -0.5
    return sign + f"{int(whole):,}".replace(",", ".") + "," + frac


def parse_figures(
    rules: Sequence[IndicatorRule], raw: Mapping[str, str], *, sector: str | None
) -> tuple[dict[str, Value], list[FigureError]]:
    """Parse each entered figure; empty cells are simply not reported."""
    by_key = {r.key: r for r in rules}
    values: dict[str, Value] = {}
    errors: list[FigureError] = []
    for key, text in raw.items():
        rule = by_key.get(key)
        if not str(text).strip():
            continue
        try:
            if rule is None:
                raise _BadFigureError("unknown")
            if rule.sectors and sector not in rule.sectors:
                raise _BadFigureError("not_applicable")
            values[key] = _parse_one(rule, str(text))
        except _BadFigureError as bad:
            label = rule.label if rule else key
            errors.append(FigureError(key, bad.code, {"label": label, **bad.params}))
    errors += _cross_checks(by_key, values)
    return values, errors


def _cross_checks(
    by_key: Mapping[str, IndicatorRule], values: dict[str, Value]
) -> list[FigureError]:
    errors = []
    for key, value in values.items():
        rule = by_key[key]
        other = values.get(rule.max_of) if rule.max_of else None
        if isinstance(value, Decimal) and isinstance(other, Decimal) and value > other:
            other_rule = by_key[rule.max_of or ""]
            params = {
                "label": rule.label,
                "other_key": other_rule.key,
                "other_value": format_number(other),
                "other_label_lower": _lower_first(other_rule.label),
            }
            errors.append(FigureError(key, "exceeds", params))
    return errors


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
