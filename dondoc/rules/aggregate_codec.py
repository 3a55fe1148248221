"""An `Aggregate` to JSON and back, exactly: decimals travel as strings, so that a parent
campaign combines a district's stored totals to the same digits as the district computed them."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from dondoc.rules.aggregate import Aggregate, Breakdown, Flag, IndicatorTotal, TargetResult

FORMAT = "dondoc/aggregate@1"
_TOTAL_NUMBERS = ("value", "numerator", "denominator")
_TARGET_NUMBERS = ("target", "result", "achieved_pct")


class CodecError(ValueError):
    pass


def dump(agg: Aggregate) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "totals": _dump_totals(agg.totals),
        "by_sector": [_dump_breakdown(b) for b in agg.by_sector],
        "by_group": [_dump_breakdown(b) for b in agg.by_group],
        "flags": [[f.unit_code, f.key, f.message_vi] for f in agg.flags],
        "targets": [_dump_target(t) for t in agg.targets],
        "reporting_units": agg.reporting_units,
        "expected_units": agg.expected_units,
    }


def load(data: Mapping[str, Any]) -> Aggregate:
    if data.get("format") != FORMAT:
        raise CodecError(f"not a stored aggregate (format {data.get('format')!r})")
    return Aggregate(
        totals=_load_totals(data["totals"]),
        by_sector=[_load_breakdown(b) for b in data["by_sector"]],
        by_group=[_load_breakdown(b) for b in data["by_group"]],
        flags=[Flag(*f) for f in data["flags"]],
        targets=[_load_target(t) for t in data["targets"]],
        reporting_units=int(data["reporting_units"]),
        expected_units=int(data["expected_units"]),
    )


def _dump_totals(totals: Mapping[str, IndicatorTotal]) -> dict[str, Any]:
    return {key: _with_text(vars(t), _TOTAL_NUMBERS) for key, t in totals.items()}


def _load_totals(data: Mapping[str, Any]) -> dict[str, IndicatorTotal]:
    return {key: IndicatorTotal(**_with_decimals(t, _TOTAL_NUMBERS)) for key, t in data.items()}


def _dump_breakdown(b: Breakdown) -> dict[str, Any]:
    return {"by": b.by, "name": b.name, "totals": _dump_totals(b.totals)}


def _load_breakdown(data: Mapping[str, Any]) -> Breakdown:
    return Breakdown(data["by"], data["name"], _load_totals(data["totals"]))


def _dump_target(t: TargetResult) -> dict[str, Any]:
    return _with_text(vars(t), _TARGET_NUMBERS)


def _load_target(data: Mapping[str, Any]) -> TargetResult:
    return TargetResult(**_with_decimals(data, _TARGET_NUMBERS))


def _with_text(fields: Mapping[str, Any], numbers: tuple[str, ...]) -> dict[str, Any]:
    return {k: (None if v is None else str(v)) if k in numbers else v for k, v in fields.items()}


def _with_decimals(fields: Mapping[str, Any], numbers: tuple[str, ...]) -> dict[str, Any]:
    return {
        k: (None if v is None else Decimal(v)) if k in numbers else v for k, v in fields.items()
    }
