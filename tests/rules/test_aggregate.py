"""Adding up the units' figures: sums, ratios of sums, counts of units, flags, breakdowns,
targets, and the roll-up of several aggregates."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest

from dondoc.plans.loader import read_plan
from dondoc.plans.schema import IndicatorSpec
from dondoc.rules.aggregate import (
    UNCLASSIFIED,
    Aggregate,
    IndicatorRuleLike,
    IndicatorTotal,
    TargetLike,
    UnitFigures,
    aggregate,
    combine,
)
from models.campaigns import IndicatorDefinition, Target

D = Decimal
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Rule:
    key: str
    label: str
    type: str = "integer"
    aggregate: str = "sum"
    unit: str | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    max_of: str | None = None
    sectors: list[str] | None = None
    formula: str | None = None
    choices: list[str] | None = None
    count_choices: list[str] | None = None


@dataclass(frozen=True)
class Goal:
    code: str
    indicator: str
    value: Decimal
    unit: str | None = None
    direction: str = ">="
    sectors: list[str] | None = None
    label: str = "Chỉ tiêu"


ENTERPRISES = ["state", "non_state", "fdi"]
RANKS = ["VMXS", "VM", "Khá", "TB", "Yếu"]
RULES: list[IndicatorRuleLike] = [
    Rule("workers", "Tổng số CNVC-LĐ", unit="người"),
    Rule("members", "Tổng số đoàn viên", unit="người", max_of="workers"),
    Rule("women", "Trong đó đoàn viên nữ", unit="người", max_of="members"),
    Rule("rate", "Tỷ lệ đoàn viên", "derived", "ratio", "%", formula="members / workers"),
    Rule("care", "Kinh phí chăm lo", "amount_vnd", unit="đồng"),
    Rule("care_each", "Bình quân", "derived", "ratio", "đồng/người", formula="care / workers"),
    Rule("agreement", "Có thỏa ước", "boolean", "count_true", sectors=ENTERPRISES),
    Rule("meeting", "Tổ chức hội nghị", "boolean", "count_true"),
    Rule("rank", "Xếp loại", "choice", "count_choice", choices=RANKS, count_choices=RANKS[:2]),
    Rule("disputes", "Tranh chấp", unit="vụ", sectors=ENTERPRISES),
    Rule("dues", "Thu KPCĐ đạt dự toán", "percent", "none", "%", max_value=D(200)),
]


def unit(
    code: str, sector: str | None = "state", group: str = "cdcs", **values: object
) -> UnitFigures:
    parsed = {k: v if isinstance(v, str) else D(str(v)) for k, v in values.items()}
    return UnitFigures(code, f"Đơn vị {code}", sector, group, parsed)


def total(units: Sequence[UnitFigures], key: str) -> IndicatorTotal:
    return aggregate(RULES, [], units).totals[key]


def shape(t: IndicatorTotal) -> tuple[object, ...]:
    return (t.value, t.numerator, t.denominator, t.reporting, t.missing, t.count)


N = None
TOTALS: list[tuple[str, list[UnitFigures], str, tuple[object, ...]]] = [
    (
        "it sums what was reported",
        [unit("A", workers=100), unit("B", workers=50)],
        "workers",
        (D(150), N, N, 2, 0, N),
    ),
    (
        "a blank value is missing, not zero",
        [unit("A", workers=100), unit("B")],
        "workers",
        (D(100), N, N, 1, 1, N),
    ),
    ("nothing reported gives no total", [unit("A"), unit("B")], "workers", (N, N, N, 0, 2, N)),
    (
        "an exempt unit adds nothing and counts as missing",
        [unit("A", workers=100), replace(unit("B", workers=50), exempt=True)],
        "workers",
        (D(100), N, N, 1, 1, N),
    ),
    (
        "a unit that did not submit adds nothing",
        [unit("A", workers=100), replace(unit("B", workers=50), submitted=False)],
        "workers",
        (D(100), N, N, 1, 1, N),
    ),
    (
        "a part above its whole is left out of the part's sum",
        [unit("A", workers=100, members=120), unit("B", workers=50, members=40)],
        "members",
        (D(40), N, N, 1, 1, N),
    ),
    (
        "the whole is still summed when its part is flagged",
        [unit("A", workers=100, members=120), unit("B", workers=50, members=40)],
        "workers",
        (D(150), N, N, 2, 0, N),
    ),
    (
        "a negative count is left out",
        [unit("A", workers=-5), unit("B", workers=7)],
        "workers",
        (D(7), N, N, 1, 1, N),
    ),
    (
        "text in a number is left out",
        [unit("A", workers="nhiều"), unit("B", workers=7)],
        "workers",
        (D(7), N, N, 1, 1, N),
    ),
    (
        "a fraction of a person is left out",
        [unit("A", workers=2.5), unit("B", workers=7)],
        "workers",
        (D(7), N, N, 1, 1, N),
    ),
    (
        "the rate is the ratio of the sums, not the mean of the rates",
        [unit("A", workers=2, members=1), unit("B", workers=100, members=90)],
        "rate",
        (D("89.22"), D(91), D(102), 2, 0, N),
    ),
    (
        "a zero denominator gives no rate",
        [unit("A", workers=0, members=0)],
        "rate",
        (N, D(0), D(0), 1, 0, N),
    ),
    (
        "a missing denominator gives no rate",
        [unit("A", members=10), unit("B", members=5)],
        "rate",
        (N, N, N, 0, 2, N),
    ),
    (
        "a unit that gave one of the two does not tilt the rate",
        [unit("A", workers=100), unit("B", workers=50, members=40)],
        "rate",
        (D(80), D(40), D(50), 1, 1, N),
    ),
    (
        "a unit with a flagged numerator does not tilt the rate",
        [unit("A", workers=100, members=120), unit("B", workers=50, members=40)],
        "rate",
        (D(80), D(40), D(50), 1, 1, N),
    ),
    (
        "a ratio whose unit is not % is not multiplied by 100",
        [unit("A", workers=100, care=2_000_000), unit("B", workers=50, care=1_000_000)],
        "care_each",
        (D("20000.00"), D(3_000_000), D(150), 2, 0, N),
    ),
    (
        "yes answers are counted among the units it applies to",
        [
            unit("A", "state", agreement=1),
            unit("B", "fdi", agreement=0),
            unit("C", "non_state", agreement=1),
            unit("D", "administrative", agreement=1),
        ],
        "agreement",
        (D("66.67"), D(2), D(3), 3, 0, 2),
    ),
    (
        "a unit that did not answer is missing from the share",
        [unit("A", "state", agreement=1), unit("B", "fdi")],
        "agreement",
        (D(100), D(1), D(1), 1, 1, 1),
    ),
    (
        "a yes/no that is neither is left out",
        [unit("A", meeting=2), unit("B", meeting=1)],
        "meeting",
        (D(100), D(1), D(1), 1, 1, 1),
    ),
    (
        "rated strong counts VMXS and VM",
        [
            unit("A", rank="VMXS"),
            unit("B", rank="VM"),
            unit("C", rank="Khá"),
            unit("D", rank="Yếu"),
        ],
        "rank",
        (D(50), D(2), D(4), 4, 0, 2),
    ),
    (
        "a rating outside the list is left out",
        [unit("A", rank="Tốt"), unit("B", rank="VM")],
        "rank",
        (D(100), D(1), D(1), 1, 1, 1),
    ),
    (
        "sector-limited sums ignore other sectors",
        [unit("A", "fdi", disputes=2), unit("B", "administrative", disputes=5)],
        "disputes",
        (D(2), N, N, 1, 0, N),
    ),
]


@pytest.mark.parametrize(
    ("units", "key", "expected"), [c[1:] for c in TOTALS], ids=[c[0] for c in TOTALS]
)
def test_totals(units: list[UnitFigures], key: str, expected: tuple[object, ...]) -> None:
    assert shape(total(units, key)) == expected


def test_it_gives_no_total_for_indicators_aggregated_by_none() -> None:
    result = aggregate(RULES, [], [unit("A", dues=95)])
    assert "dues" not in result.totals
    assert result.flags == []


FLAGS: list[tuple[str, UnitFigures, list[tuple[str, str, str]]]] = [
    (
        "a part above its whole",
        unit("A", workers=100, members=120),
        [("A", "members", "Tổng số đoàn viên không được lớn hơn tổng số CNVC-LĐ (120 > 100)")],
    ),
    (
        "below the minimum",
        unit("A", workers=-5),
        [("A", "workers", "Tổng số CNVC-LĐ không được nhỏ hơn 0 (số liệu đã nhập: -5)")],
    ),
    (
        "above the maximum",
        unit("A", dues=250),
        [("A", "dues", "Thu KPCĐ đạt dự toán không được lớn hơn 200 (số liệu đã nhập: 250)")],
    ),
    (
        "text in a number",
        unit("A", care="ba triệu"),
        [("A", "care", "Kinh phí chăm lo phải là một số (số liệu đã nhập: “ba triệu”)")],
    ),
    (
        "a choice outside the list",
        unit("A", rank="Tốt"),
        [
            (
                "A",
                "rank",
                "Xếp loại phải là một trong: VMXS, VM, Khá, TB, Yếu (số liệu đã nhập: “Tốt”)",
            )
        ],
    ),
    (
        "values of a derived, an unknown or a not applicable indicator are ignored",
        unit("A", "administrative", rate=99, nonsense=1, agreement=5),
        [],
    ),
]


@pytest.mark.parametrize(("one", "expected"), [c[1:] for c in FLAGS], ids=[c[0] for c in FLAGS])
def test_flags(one: UnitFigures, expected: list[tuple[str, str, str]]) -> None:
    flags = aggregate(RULES, [], [one]).flags
    assert [(f.unit_code, f.key, f.message_vi) for f in flags] == expected


def test_it_does_not_check_units_that_are_left_out() -> None:
    exempt = replace(unit("A", workers=-1), exempt=True)
    late = replace(unit("B", workers=-1), submitted=False)
    assert aggregate(RULES, [], [exempt, late]).flags == []


def test_it_counts_reporting_and_expected_units() -> None:
    units = [unit("A"), replace(unit("B"), exempt=True), replace(unit("C"), submitted=False)]
    result = aggregate(RULES, [], units)
    assert (result.reporting_units, result.expected_units) == (1, 2)


def test_it_refuses_formulas_other_than_a_ratio() -> None:
    odd = Rule("odd", "Lạ", "derived", "ratio", formula="members * 2")
    with pytest.raises(ValueError, match="a / b"):
        aggregate([*RULES, odd], [], [])


def test_breakdowns_name_sectors_and_groups_in_order() -> None:
    units = [unit("A", "state", "b"), unit("B", None, "a"), unit("C", "fdi", "b")]
    result = aggregate(RULES, [], units)
    assert [b.name for b in result.by_sector] == ["fdi", "state", UNCLASSIFIED]
    assert [b.name for b in result.by_group] == ["a", "b"]
    assert {b.by for b in result.by_sector} == {"sector"}


def test_breakdowns_add_up_to_the_total() -> None:
    result = aggregate(RULES, [], synthetic_units(random.Random(7), "Q1", 60))
    for breakdowns in (result.by_sector, result.by_group):
        for key, whole in result.totals.items():
            parts = [b.totals[key] for b in breakdowns]
            assert sum(p.reporting for p in parts) == whole.reporting
            assert sum(p.missing for p in parts) == whole.missing
            for field in ("value", "numerator", "denominator", "count"):
                if whole.rule in ("ratio", "count_true", "count_choice") and field == "value":
                    continue  # shares do not add; their numerators and denominators do
                got = [getattr(p, field) for p in parts if getattr(p, field) is not None]
                assert (sum(got) if got else None) == getattr(whole, field), (key, field)


def test_a_sector_breakdown_holds_that_sector_only() -> None:
    units = [unit("A", "fdi", workers=10, members=9), unit("B", "state", workers=10, members=5)]
    fdi = aggregate(RULES, [], units).by_sector[0]
    assert (fdi.name, fdi.totals["workers"].value, fdi.totals["rate"].value) == (
        "fdi",
        D(10),
        D(90),
    )


TARGETS: list[tuple[str, Goal, list[UnitFigures], tuple[object, ...]]] = [
    (">= met", Goal("T", "workers", D(100)), [unit("A", workers=120)], (D(120), D(120), True)),
    (">= not met", Goal("T", "workers", D(100)), [unit("A", workers=80)], (D(80), D(80), False)),
    (
        ">= met exactly",
        Goal("T", "workers", D(100)),
        [unit("A", workers=100)],
        (D(100), D(100), True),
    ),
    (
        "<= met",
        Goal("T", "disputes", D(3), "vụ", "<="),
        [unit("A", disputes=2)],
        (D(2), D("66.67"), True),
    ),
    (
        "<= not met",
        Goal("T", "disputes", D(3), "vụ", "<="),
        [unit("A", disputes=4)],
        (D(4), D("133.33"), False),
    ),
    (
        "<= zero target met, no percentage of zero",
        Goal("T", "disputes", D(0), "vụ", "<="),
        [unit("A", disputes=0)],
        (D(0), N, True),
    ),
    ("no figures, no verdict", Goal("T", "workers", D(100)), [unit("A")], (N, N, N)),
    (
        "a rate indicator",
        Goal("T", "rate", D(80), "%"),
        [unit("A", workers=100, members=85)],
        (D(85), D("106.25"), True),
    ),
    (
        "a formula over summed indicators",
        Goal("T", "members / workers", D(95), "%"),
        [unit("A", workers=100, members=85), unit("B", workers=100, members=95)],
        (D(90), D("94.74"), False),
    ),
    (
        "a formula with a zero denominator",
        Goal("T", "members / workers", D(95), "%"),
        [unit("A", workers=0, members=0)],
        (N, N, N),
    ),
    (
        "a share of units for a % target on a yes/no",
        Goal("T", "agreement", D(70), "% doanh nghiệp", sectors=ENTERPRISES),
        [
            unit("A", "state", agreement=1),
            unit("B", "fdi", agreement=0),
            unit("C", "non_state", agreement=1),
            unit("D", "fdi", agreement=1),
        ],
        (D(75), D("107.14"), True),
    ),
    (
        "a count of units for a target in units",
        Goal("T", "rank", D(3), "CĐCS"),
        [unit("A", rank="VM"), unit("B", rank="VMXS"), unit("C", rank="TB")],
        (D(2), D("66.67"), False),
    ),
    (
        "only the target's sectors count",
        Goal("T", "rate", D(95), "%", sectors=["state", "administrative"]),
        [
            unit("A", "state", workers=100, members=99),
            unit("B", "fdi", workers=100, members=10),
            unit("C", "administrative", workers=100, members=97),
        ],
        (D(98), D("103.16"), True),
    ),
    (
        "a sector with no units gives no verdict",
        Goal("T", "workers", D(1), sectors=["fdi"]),
        [unit("A", "state", workers=5)],
        (N, N, N),
    ),
    (
        "an indicator that is not aggregated gives no verdict",
        Goal("T", "dues", D(100), "%"),
        [unit("A", dues=100)],
        (N, N, N),
    ),
]


@pytest.mark.parametrize(
    ("goal", "units", "expected"), [c[1:] for c in TARGETS], ids=[c[0] for c in TARGETS]
)
def test_targets(goal: Goal, units: list[UnitFigures], expected: tuple[object, ...]) -> None:
    (result,) = aggregate(RULES, [goal], units).targets
    assert (result.result, result.achieved_pct, result.met) == expected
    assert (result.code, result.target, result.direction) == ("T", goal.value, goal.direction)


def test_a_target_on_an_unknown_indicator_is_an_error() -> None:
    with pytest.raises(ValueError, match="target T: no indicator 'nope'"):
        aggregate(RULES, [Goal("T", "nope", D(1))], [unit("A")])


def test_the_result_does_not_depend_on_the_order_of_the_units() -> None:
    units = synthetic_units(random.Random(3), "Q1", 40)
    targets = [
        Goal("T1", "rate", D(90), "%", sectors=["state"]),
        Goal("T2", "agreement", D(50), "%"),
    ]
    assert aggregate(RULES, targets, units) == aggregate(RULES, targets, units[::-1])


def test_a_city_over_three_districts_equals_all_their_units_at_once() -> None:
    rng = random.Random(2015)
    districts = [synthetic_units(rng, name, rng.randint(20, 40)) for name in ("Q1", "Q3", "Q5")]
    targets = [
        Goal("CT02", "rate", D(95), "%", sectors=["administrative", "state"]),
        Goal("CT03", "members / workers", D(70), "%", sectors=["non_state", "fdi"]),
        Goal("CT05", "rank", D(60), "% CĐCS"),
        Goal("CT10", "disputes", D(3), "vụ", "<="),
    ]
    city = combine(RULES, targets, [aggregate(RULES, targets, d) for d in districts])
    everyone = [u for d in districts for u in d]
    direct = aggregate(RULES, targets, everyone)
    assert city == direct
    valid = [u for u in everyone if u.counted and not flagged(direct, u, "members")]
    members = sum((number(u, "members") for u in valid if "members" in u.values), D(0))
    assert city.totals["members"].value == members
    pairs = [u for u in valid if {"members", "workers"} <= set(u.values)]
    num = sum((number(u, "members") for u in pairs), D(0))
    den = sum((number(u, "workers") for u in pairs), D(0))
    rate = city.totals["rate"]
    assert (rate.numerator, rate.denominator) == (num, den)
    assert rate.value == (D(100) * num / den).quantize(D("0.01"))


def test_combining_nothing_gives_an_empty_aggregate() -> None:
    empty = combine(RULES, [], [])
    assert (empty.reporting_units, empty.expected_units, empty.flags) == (0, 0, [])
    assert empty.totals["workers"].value is None


def test_the_seed_plan_aggregates_with_the_stored_definitions() -> None:
    spec = read_plan(EXAMPLES / "q1-so-ket-2015.yaml").spec
    definitions: list[IndicatorRuleLike] = [stored_definition(i) for i in spec.indicators]
    targets: list[TargetLike] = [
        Target(
            campaign_id=1,
            code=t.code,
            label=t.label,
            indicator=t.indicator,
            value=t.value,
            unit=t.unit,
            direction=t.direction,
            sectors=[s.value for s in t.sectors] if t.sectors else None,
        )
        for t in spec.targets
    ]
    units = [
        unit("CD1", "state", so_cnvcld=200, so_doan_vien=190, xep_loai_2014="VM", co_tuldtt=1),
        unit("CD2", "fdi", so_cnvcld=1000, so_doan_vien=600, xep_loai_2014="Khá", co_tuldtt=1),
        unit("CD3", "administrative", so_cnvcld=40, so_doan_vien=40, xep_loai_2014="VMXS"),
    ]
    result = aggregate(definitions, targets, units)
    assert len(result.totals) == 17  # 18 indicators, thu_kpcd_pct is not aggregated
    by_code = {t.code: t for t in result.targets}
    assert by_code["CT02"].result == D("95.83")  # (190 + 40) / (200 + 40)
    assert by_code["CT03"].result == D(60)
    assert (by_code["CT04"].result, by_code["CT04"].met) == (D(100), True)
    assert by_code["CT06"].result == D(100)
    assert by_code["CT01"].met is None  # nobody reported new members


def stored_definition(spec: IndicatorSpec) -> IndicatorDefinition:
    """The row the plan writer stores, without a database."""
    return IndicatorDefinition(
        campaign_id=1,
        key=spec.key,
        label=spec.label,
        unit=spec.unit,
        type=spec.type.value,
        min_value=spec.min,
        max_value=spec.max,
        max_of=spec.max_of,
        sectors=[s.value for s in spec.sectors] if spec.sectors else None,
        aggregate=spec.aggregate.value,
        formula=spec.formula,
        choices=spec.choices,
        count_choices=spec.count,
    )


def number(one: UnitFigures, key: str) -> Decimal:
    value = one.values[key]
    assert isinstance(value, Decimal)
    return value


def flagged(result: Aggregate, one: UnitFigures, key: str) -> bool:
    return any(f.unit_code == one.unit_code and f.key == key for f in result.flags)


SECTORS = ["state", "non_state", "fdi", "public_service", "administrative", None]


def synthetic_units(rng: random.Random, district: str, n: int) -> list[UnitFigures]:
    """Units with gaps, exemptions, late units and values that break their rules."""
    units = []
    for i in range(n):
        workers = rng.randint(0, 900)
        values: dict[str, object] = {
            "workers": workers,
            "members": rng.randint(0, workers + 30),  # sometimes above the workers: flagged
            "women": rng.randint(0, workers // 2 + 1),
            "care": rng.randint(0, 50) * 1_000_000,
            "agreement": rng.choice([0, 1, 1, 2]),
            "meeting": rng.choice([0, 1]),
            "rank": rng.choice([*RANKS, "Tốt"]),
            "disputes": rng.choice([0, 0, 0, 1, 2]),
        }
        kept = {k: v for k, v in values.items() if rng.random() > 0.1}
        one = unit(
            f"{district}-{i:03d}", rng.choice(SECTORS), rng.choice(["g1", "g2", "g3"]), **kept
        )
        units.append(replace(one, exempt=rng.random() < 0.05, submitted=rng.random() > 0.1))
    return units
