"""Adding up the units' figures of a requirement: sums, ratios of sums, counts and shares of
units, by sector and by group, and the plan's targets against the result.

Pure: definitions, targets and each unit's parsed values in, an `Aggregate` out. Every figure is
a merge of the units' own contributions, so a breakdown, the total, a target's sector scope and a
roll-up of several aggregates (`combine`) are one and the same arithmetic."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Protocol

from dondoc.rules.figures import FigureError, IndicatorRule, format_number

SUM, RATIO, COUNT_TRUE, COUNT_CHOICE, NONE = "sum", "ratio", "count_true", "count_choice", "none"
COUNT_RULES = (COUNT_TRUE, COUNT_CHOICE)
UNCLASSIFIED = "unclassified"  # the by-sector name of units that have no sector
_WHOLE = ("integer", "amount_vnd")
_FORMULA = re.compile(r"^\s*([A-Za-z_]\w*)\s*/\s*([A-Za-z_]\w*)\s*$")
# Explicit precision: the caller's decimal context must not change a report.
_CTX = Context(prec=28)
_CENT = Decimal("0.01")

Value = Decimal | str


class IndicatorRuleLike(IndicatorRule, Protocol):
    @property
    def unit(self) -> str | None: ...
    @property
    def aggregate(self) -> str: ...
    @property
    def formula(self) -> str | None: ...
    @property
    def count_choices(self) -> list[str] | None: ...


class TargetLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def indicator(self) -> str: ...
    @property
    def value(self) -> Decimal: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def direction(self) -> str: ...
    @property
    def sectors(self) -> list[str] | None: ...


@dataclass(frozen=True)
class UnitFigures:
    unit_code: str
    unit_name: str
    sector: str | None
    group: str
    values: Mapping[str, Value]  # booleans as Decimal 1 / 0, choices as text
    exempt: bool = False
    submitted: bool = True

    @property
    def counted(self) -> bool:
        return self.submitted and not self.exempt


@dataclass(frozen=True)
class Flag:
    unit_code: str
    key: str
    message_vi: str


@dataclass(frozen=True)
class IndicatorTotal:
    """sum: `value` is the sum. ratio: `value` = numerator / denominator (x 100 when the unit is
    "%"), both summed over the units that gave both, valid. count_true / count_choice: `count`
    of the `denominator` units that answered meet it; `value` is that share in %. Ratios and
    shares are rounded to 0.01, and None when the denominator is missing or zero. `reporting`
    units gave a usable value; `missing` units the indicator applies to did not (not submitted,
    exempt, left blank or flagged)."""

    key: str
    label: str
    unit: str | None
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    reporting: int
    missing: int
    count: int | None
    rule: str


@dataclass(frozen=True)
class Breakdown:
    by: str  # "sector" | "group"
    name: str
    totals: dict[str, IndicatorTotal]


@dataclass(frozen=True)
class TargetResult:
    code: str
    label: str
    target: Decimal
    result: Decimal | None
    achieved_pct: Decimal | None  # result / target x 100, also for "<=" targets
    met: bool | None  # None: no result to judge
    unit: str | None
    direction: str


@dataclass(frozen=True)
class Aggregate:
    totals: dict[str, IndicatorTotal]
    by_sector: list[Breakdown]
    by_group: list[Breakdown]
    flags: list[Flag]
    targets: list[TargetResult]
    reporting_units: int  # submitted, not exempt
    expected_units: int  # not exempt


Parts = Mapping[str, IndicatorTotal]


def aggregate(
    definitions: Sequence[IndicatorRuleLike],
    targets: Sequence[TargetLike],
    units: Sequence[UnitFigures],
) -> Aggregate:
    """Exempt units and units that did not submit add nothing and count as missing. A value that
    breaks its rule (wrong type, below min, above max, above its `max_of`) is flagged and left out
    of that indicator, and of the ratios that use it; the unit's other values still count."""
    rules = _rules_by_key(definitions)
    flags: list[Flag] = []
    by_sector: dict[str, _Tally] = {}
    by_group: dict[str, _Tally] = {}
    for unit in sorted(units, key=lambda u: u.unit_code):
        values, unit_flags = _checked(rules, unit) if unit.counted else ({}, [])
        flags += unit_flags
        tallies = (
            _tally(by_sector, unit.sector or UNCLASSIFIED, rules),
            _tally(by_group, unit.group, rules),
        )
        for key, part in _unit_parts(rules, unit, values):
            for tally in tallies:
                tally.add(key, part)
    sectors = [Breakdown("sector", n, by_sector[n].totals()) for n in sorted(by_sector)]
    return _assemble(
        rules,
        targets,
        # Every unit is in exactly one sector: adding the sectors up is adding the units up.
        totals=_merge_all(rules, [b.totals for b in sectors]),
        by_sector=sectors,
        by_group=[Breakdown("group", n, by_group[n].totals()) for n in sorted(by_group)],
        flags=flags,
        reporting=sum(u.counted for u in units),
        expected=sum(not u.exempt for u in units),
    )


def combine(
    definitions: Sequence[IndicatorRuleLike],
    targets: Sequence[TargetLike],
    parts: Sequence[Aggregate],
) -> Aggregate:
    """The roll-up: one aggregate of several (a city over its districts), equal to aggregating
    all their units at once. Targets are evaluated again against the combined figures."""
    rules = _rules_by_key(definitions)
    return _assemble(
        rules,
        targets,
        totals=_merge_all(rules, [a.totals for a in parts]),
        by_sector=_breakdowns(
            rules, "sector", [(b.name, b.totals) for a in parts for b in a.by_sector]
        ),
        by_group=_breakdowns(
            rules, "group", [(b.name, b.totals) for a in parts for b in a.by_group]
        ),
        flags=[f for a in parts for f in a.flags],
        reporting=sum(a.reporting_units for a in parts),
        expected=sum(a.expected_units for a in parts),
    )


def formula_operands(formula: str | None) -> tuple[str, str]:
    match = _FORMULA.match(formula or "")
    if not match:
        raise ValueError(f"only formulas of the form 'a / b' are supported, got {formula!r}")
    return match[1], match[2]


def merge_totals(rule: IndicatorRuleLike, parts: Sequence[IndicatorTotal]) -> IndicatorTotal:
    count = sum(p.count or 0 for p in parts) if rule.aggregate in COUNT_RULES else None
    return _total(
        rule,
        value=_add(p.value for p in parts),
        numerator=_add(p.numerator for p in parts),
        denominator=_add(p.denominator for p in parts),
        reporting=sum(p.reporting for p in parts),
        count=count,
        applicable=sum(p.reporting + p.missing for p in parts),
    )


def _rules_by_key(definitions: Sequence[IndicatorRuleLike]) -> dict[str, _Rule]:
    for rule in definitions:
        if rule.aggregate == RATIO:
            formula_operands(rule.formula)  # fail before any arithmetic
    return {r.key: _Rule.of(r) for r in definitions}


@dataclass(frozen=True, slots=True)
class _Rule:
    """A plain copy of a definition: the rules are read hundreds of thousands of times for
    10 000 units, and an ORM row's attributes are several times slower to read."""

    key: str
    label: str
    type: str
    min_value: Decimal | None
    max_value: Decimal | None
    max_of: str | None
    sectors: list[str] | None
    choices: list[str] | None
    unit: str | None
    aggregate: str
    formula: str | None
    count_choices: list[str] | None

    @classmethod
    def of(cls, r: IndicatorRuleLike) -> _Rule:
        return cls(
            r.key, r.label, r.type, r.min_value, r.max_value, r.max_of, r.sectors, r.choices,
            r.unit, r.aggregate, r.formula, r.count_choices,
        )  # fmt: skip


def _tally(tallies: dict[str, _Tally], name: str, rules: Mapping[str, _Rule]) -> _Tally:
    if name not in tallies:
        tallies[name] = _Tally(rules)
    return tallies[name]


# A unit's contribution to one indicator: value, numerator, denominator, reporting, count.
_Part = tuple[Decimal | None, Decimal | None, Decimal | None, int, int]


class _Tally:
    """The running merge_totals of one breakdown's units, one unit at a time: the same
    additions in the same order, without an IndicatorTotal per unit and indicator."""

    def __init__(self, rules: Mapping[str, _Rule]) -> None:
        self.rules = rules
        self.sums: dict[str, list[Any]] = {
            key: [None, None, None, 0, 0, 0] for key, r in rules.items() if r.aggregate != NONE
        }

    def add(self, key: str, part: _Part) -> None:
        acc = self.sums[key]
        value, numerator, denominator, reporting, count = part
        acc[0], acc[1], acc[2] = (
            _plus(acc[0], value), _plus(acc[1], numerator), _plus(acc[2], denominator),
        )  # fmt: skip
        acc[3] += reporting
        acc[4] += count
        acc[5] += 1  # applicable

    def totals(self) -> dict[str, IndicatorTotal]:
        return {
            key: _total(
                self.rules[key], value=value, numerator=numerator, denominator=denominator,
                reporting=reporting, applicable=applicable,
                count=count if self.rules[key].aggregate in COUNT_RULES else None,
            )
            for key, (value, numerator, denominator, reporting, count, applicable)
            in self.sums.items()
        }  # fmt: skip


def _assemble(
    rules: Mapping[str, IndicatorRuleLike],
    targets: Sequence[TargetLike],
    *,
    totals: dict[str, IndicatorTotal],
    by_sector: list[Breakdown],
    by_group: list[Breakdown],
    flags: list[Flag],
    reporting: int,
    expected: int,
) -> Aggregate:
    return Aggregate(
        totals=totals,
        by_sector=by_sector,
        by_group=by_group,
        flags=sorted(flags, key=lambda f: (f.unit_code, f.key, f.message_vi)),
        targets=[_evaluate(t, rules, totals, by_sector) for t in targets],
        reporting_units=reporting,
        expected_units=expected,
    )


def _merge_all(
    rules: Mapping[str, IndicatorRuleLike], parts: Sequence[Parts]
) -> dict[str, IndicatorTotal]:
    return {
        key: merge_totals(rule, [p[key] for p in parts if key in p])
        for key, rule in rules.items()
        if rule.aggregate != NONE
    }


def _breakdowns(
    rules: Mapping[str, IndicatorRuleLike], by: str, parts: Sequence[tuple[str, Parts]]
) -> list[Breakdown]:
    grouped: dict[str, list[Parts]] = {}
    for name, part in parts:
        grouped.setdefault(name, []).append(part)
    return [Breakdown(by, name, _merge_all(rules, grouped[name])) for name in sorted(grouped)]


def _unit_parts(
    rules: Mapping[str, _Rule], unit: UnitFigures, values: Mapping[str, Value]
) -> Iterator[tuple[str, _Part]]:
    """The unit's own contribution to each indicator that applies to its sector."""
    for key, rule in rules.items():
        if rule.aggregate != NONE and _applies(rule, unit.sector):
            yield key, _unit_part(rule, values)


def _unit_part(rule: _Rule, values: Mapping[str, Value]) -> _Part:
    if rule.aggregate == RATIO:
        a, b = formula_operands(rule.formula)
        num, den = _number(values.get(a)), _number(values.get(b))
        if num is None or den is None:  # one of the two alone would tilt the rate
            return None, None, None, 0, 0
        return None, num, den, 1, 0
    value = values.get(rule.key)
    if rule.aggregate in COUNT_RULES:
        if value is None:
            return None, None, None, 0, 0
        hit = _meets(rule, value)
        return None, Decimal(hit), Decimal(1), 1, hit
    number = _number(value)
    return number, None, None, int(number is not None), 0


def _total(
    rule: IndicatorRuleLike,
    *,
    value: Decimal | None = None,
    numerator: Decimal | None = None,
    denominator: Decimal | None = None,
    reporting: int = 0,
    count: int | None = None,
    applicable: int = 1,
) -> IndicatorTotal:
    if rule.aggregate == RATIO:
        value = _share(numerator, denominator, percent=rule.unit == "%")
    elif rule.aggregate in COUNT_RULES:
        value = _share(numerator, denominator, percent=True)
    return IndicatorTotal(
        key=rule.key,
        label=rule.label,
        unit=rule.unit,
        value=value,
        numerator=numerator,
        denominator=denominator,
        reporting=reporting,
        missing=max(applicable - reporting, 0),
        count=count,
        rule=rule.aggregate,
    )


def _meets(rule: IndicatorRuleLike, value: Value) -> int:
    if rule.aggregate == COUNT_TRUE:
        return int(value == Decimal(1))
    return int(value in (rule.count_choices or []))


def _evaluate(
    target: TargetLike,
    rules: Mapping[str, IndicatorRuleLike],
    totals: dict[str, IndicatorTotal],
    by_sector: Sequence[Breakdown],
) -> TargetResult:
    scope = totals
    if target.sectors:
        chosen = [b.totals for b in by_sector if b.name in target.sectors]
        scope = _merge_all(rules, chosen)
    result = _target_value(target, rules, scope)
    goal = Decimal(target.value)
    met = None
    if result is not None:
        met = result >= goal if target.direction == ">=" else result <= goal
    return TargetResult(
        code=target.code,
        label=target.label,
        target=goal,
        result=result,
        achieved_pct=_share(result, goal, percent=True),
        met=met,
        unit=target.unit,
        direction=target.direction,
    )


def _target_value(
    target: TargetLike, rules: Mapping[str, IndicatorRuleLike], scope: Mapping[str, IndicatorTotal]
) -> Decimal | None:
    """A "%" target on a count indicator is read as the share of units (the plan's convention),
    in any other unit as the count. A formula target is the ratio of the operands' totals."""
    keys = formula_operands(target.indicator) if "/" in target.indicator else (target.indicator,)
    if unknown := [k for k in keys if k not in rules]:
        raise ValueError(f"target {target.code}: no indicator {unknown[0]!r}")
    as_share = (target.unit or "").lstrip().startswith("%")
    totals = [scope.get(k) for k in keys]  # None for an indicator that is not aggregated
    if len(totals) == 2:
        return _share(_amount(totals[0]), _amount(totals[1]), percent=as_share)
    if totals[0] is not None and totals[0].rule in COUNT_RULES and as_share:
        return totals[0].value
    return _amount(totals[0])


def _amount(total: IndicatorTotal | None) -> Decimal | None:
    """What a count or a sum amounts to; a ratio's own value."""
    if total is None:
        return None
    return total.numerator if total.rule in COUNT_RULES else total.value


def _checked(
    rules: Mapping[str, IndicatorRuleLike], unit: UnitFigures
) -> tuple[dict[str, Value], list[Flag]]:
    """The unit's usable values and the flags of the others. Values of derived or unknown
    indicators, or of indicators that do not apply to the unit's sector, are ignored."""
    entered = {
        key: value
        for key, value in unit.values.items()
        if key in rules and rules[key].type != "derived" and _applies(rules[key], unit.sector)
    }
    flags = [
        Flag(unit.unit_code, key, message)
        for key in sorted(entered)
        if (message := _problem(rules, rules[key], entered)) is not None
    ]
    flagged = {f.key for f in flags}
    return {k: v for k, v in entered.items() if k not in flagged}, flags


def _problem(
    rules: Mapping[str, IndicatorRuleLike], rule: IndicatorRuleLike, values: Mapping[str, Value]
) -> str | None:
    value = values[rule.key]
    if rule.type == "choice":
        ok = isinstance(value, str) and value in (rule.choices or [])
        return (
            None
            if ok
            else _message(rule, value, "bad_choice", choices=", ".join(rule.choices or []))
        )
    if not isinstance(value, Decimal) or not value.is_finite():
        return _message(rule, value, "not_boolean" if rule.type == "boolean" else "not_number")
    if rule.type == "boolean":
        return None if value in (0, 1) else _message(rule, value, "not_boolean")
    if rule.type in _WHOLE and value != value.to_integral_value():
        return _message(rule, value, "not_integer")
    low = rule.min_value if rule.min_value is not None else Decimal(0)
    if value < low:
        return _message(rule, value, "below_min", bound=format_number(low))
    if rule.max_value is not None and value > rule.max_value:
        return _message(rule, value, "above_max", bound=format_number(rule.max_value))
    whole = values.get(rule.max_of) if rule.max_of else None
    if isinstance(whole, Decimal) and whole.is_finite() and value > whole:
        other = rules[rule.max_of or ""].label
        return _message(
            rule, value, "exceeds", other_label_lower=other[:1].lower() + other[1:], whole=whole
        )
    return None


def _message(
    rule: IndicatorRuleLike, value: Value, code: str, *, whole: Decimal | None = None, **params: str
) -> str:
    text = FigureError(rule.key, code, {"label": rule.label, **params}).vietnamese()
    shown = (
        format_number(value) if isinstance(value, Decimal) and value.is_finite() else f"“{value}”"
    )
    if whole is not None:
        return f"{text} ({shown} > {format_number(whole)})"
    return f"{text} (số liệu đã nhập: {shown})"


def _applies(rule: IndicatorRuleLike, sector: str | None) -> bool:
    return not rule.sectors or sector in rule.sectors


def _number(value: Value | None) -> Decimal | None:
    return value if isinstance(value, Decimal) else None


def _add(values: Iterable[Decimal | None]) -> Decimal | None:
    total: Decimal | None = None
    for value in values:
        total = _plus(total, value)
    return total


def _plus(total: Decimal | None, value: Decimal | None) -> Decimal | None:
    """None until a number comes; then the numbers added, with the explicit context."""
    if value is None:
        return total
    return value if total is None else _CTX.add(total, value)


def _share(num: Decimal | None, den: Decimal | None, *, percent: bool) -> Decimal | None:
    if num is None or den is None or den == 0:
        return None
    ratio = _CTX.divide(num, den)
    if percent:
        ratio = _CTX.multiply(ratio, Decimal(100))
    return ratio.quantize(_CENT, rounding=ROUND_HALF_UP, context=_CTX)
