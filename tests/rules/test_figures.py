"""Figures as units type them: Vietnamese number formats, yes/no words, choices, bounds and the
"part must not exceed the whole" cross check, with English and Vietnamese messages."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal

import pytest

from dondoc.rules.figures import (
    FigureError,
    IndicatorRule,
    Value,
    format_number,
    parse_figures,
    parse_number,
)


@dataclass(frozen=True)
class Rule:
    key: str
    label: str
    type: str = "integer"
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    max_of: str | None = None
    sectors: list[str] | None = None
    choices: list[str] | None = None


RANKS = ["Vững mạnh", "Khá", "Trung bình", "Yếu"]
RULES: list[IndicatorRule] = [
    Rule("so_doan_vien", "Tổng số đoàn viên"),
    Rule("so_doan_vien_nu", "Trong đó nữ", max_of="so_doan_vien"),
    Rule("kinh_phi", "Kinh phí công đoàn", type="amount_vnd"),
    Rule("ty_le_tang", "Tỷ lệ tăng", type="percent"),
    Rule("ty_le_tham_gia", "Tỷ lệ tham gia", type="percent", max_value=Decimal(100)),
    Rule("co_thoa_uoc", "Có thỏa ước lao động tập thể", type="boolean"),
    Rule("xep_loai", "Xếp loại", type="choice", choices=RANKS),
    Rule("ty_le_doan_vien", "Tỷ lệ đoàn viên", type="derived"),
    Rule("so_lao_dong_nuoc_ngoai", "Số lao động nước ngoài", sectors=["fdi"]),
    Rule("so_cuoc_hop", "Số cuộc họp", min_value=Decimal(2), max_value=Decimal(12)),
]


def parse(key: str, text: str, *, sector: str | None = "fdi") -> tuple[Value | None, str | None]:
    """The one figure's value and error code (None when absent)."""
    values, errors = parse_figures(RULES, {key: text}, sector=sector)
    assert len(errors) <= 1, errors
    return values.get(key), errors[0].code if errors else None


GOOD: list[tuple[str, str, Value]] = [
    ("so_doan_vien", "13.800.000", Decimal(13800000)),
    ("so_doan_vien", "13 800 000", Decimal(13800000)),
    ("so_doan_vien", " 1250 ", Decimal(1250)),
    ("so_doan_vien", "0", Decimal(0)),
    ("kinh_phi", "13.800.000", Decimal(13800000)),
    ("kinh_phi", "13\u00a0800\u00a0000", Decimal(13800000)),
    ("ty_le_tang", "12,5", Decimal("12.5")),
    ("ty_le_tang", "12.5", Decimal("12.5")),
    ("ty_le_tang", "1.250", Decimal(1250)),  # a dot before three digits groups thousands
    ("ty_le_tang", "0,75", Decimal("0.75")),
    ("ty_le_tham_gia", "100", Decimal(100)),
    ("so_cuoc_hop", "2", Decimal(2)),
    ("so_cuoc_hop", "12", Decimal(12)),
    ("so_lao_dong_nuoc_ngoai", "15", Decimal(15)),
    ("xep_loai", "Vững mạnh", "Vững mạnh"),
    ("xep_loai", "vững mạnh", "Vững mạnh"),
    ("xep_loai", "  KHÁ ", "Khá"),
    ("xep_loai", unicodedata.normalize("NFD", "trung bình"), "Trung bình"),
]


@pytest.mark.parametrize(("key", "text", "expected"), GOOD)
def test_it_reads_figures_as_offices_write_them(key: str, text: str, expected: Value) -> None:
    assert parse(key, text) == (expected, None)


BOOLEANS = [
    ("có", 1),
    ("Có", 1),
    ("CÓ", 1),
    ("co", 1),
    ("yes", 1),
    ("Yes", 1),
    ("1", 1),
    ("x", 1),
    ("X", 1),
    (" có ", 1),
    ("không", 0),
    ("Không", 0),
    ("khong", 0),
    ("no", 0),
    ("NO", 0),
    ("0", 0),
]


@pytest.mark.parametrize(("text", "expected"), BOOLEANS)
def test_it_reads_yes_and_no_words_as_one_and_zero(text: str, expected: int) -> None:
    assert parse("co_thoa_uoc", text) == (Decimal(expected), None)


# (key, text, sector, error code, English message)
BAD: list[tuple[str, str, str | None, str, str]] = [
    ("so_doan_vien", "abc", "fdi", "not_integer", "expected a whole number"),
    ("so_doan_vien", "1,5", "fdi", "not_integer", "expected a whole number"),
    ("so_doan_vien", "1.5", "fdi", "not_integer", "expected a whole number"),
    ("so_doan_vien", "13.80.000", "fdi", "not_integer", "expected a whole number"),
    ("kinh_phi", "13,8 triệu", "fdi", "not_integer", "expected a whole number"),
    ("ty_le_tang", "abc", "fdi", "not_number", "expected a number"),
    ("ty_le_tang", "12,5%", "fdi", "not_number", "expected a number"),
    ("ty_le_tang", "NaN", "fdi", "not_number", "expected a number"),
    ("ty_le_tang", "Infinity", "fdi", "not_number", "expected a number"),
    ("co_thoa_uoc", "có lẽ", "fdi", "not_boolean", "expected yes or no"),
    ("co_thoa_uoc", "2", "fdi", "not_boolean", "expected yes or no"),
    ("xep_loai", "Xuất sắc", "fdi", "bad_choice", f"expected one of {', '.join(RANKS)}"),
    ("ty_le_doan_vien", "85", "fdi", "derived", "computed, not entered"),
    ("so_khong_co", "5", "fdi", "unknown", "no such indicator"),
    ("so_lao_dong_nuoc_ngoai", "15", "state", "not_applicable", "does not apply"),
    ("so_lao_dong_nuoc_ngoai", "15", None, "not_applicable", "does not apply"),
    ("so_doan_vien", "-1", "fdi", "below_min", "must be at least 0"),
    ("so_doan_vien", "-1.000", "fdi", "below_min", "must be at least 0"),
    ("ty_le_tang", "-0,5", "fdi", "below_min", "must be at least 0"),
    ("so_cuoc_hop", "1", "fdi", "below_min", "must be at least 2"),
    ("so_cuoc_hop", "13", "fdi", "above_max", "must be at most 12"),
    ("ty_le_tham_gia", "100,5", "fdi", "above_max", "must be at most 100"),
]


@pytest.mark.parametrize(("key", "text", "sector", "code", "english"), BAD)
def test_a_bad_figure_is_refused_with_an_english_message(
    key: str, text: str, sector: str | None, code: str, english: str
) -> None:
    values, errors = parse_figures(RULES, {key: text}, sector=sector)
    assert values == {}
    assert [(e.key, e.code) for e in errors] == [(key, code)]
    assert english in errors[0].english()


VIETNAMESE = [
    ("so_doan_vien", "1,5", "Tổng số đoàn viên phải là số nguyên"),
    ("ty_le_tang", "abc", "Tỷ lệ tăng phải là một số"),
    ("co_thoa_uoc", "có lẽ", "Có thỏa ước lao động tập thể: chọn Có hoặc Không"),
    ("xep_loai", "Tốt", "Xếp loại phải là một trong: Vững mạnh, Khá, Trung bình, Yếu"),
    ("ty_le_doan_vien", "85", "Tỷ lệ đoàn viên được tính tự động, không cần nhập"),
    ("so_khong_co", "5", "Không có chỉ tiêu này trong biểu mẫu"),
    ("so_doan_vien", "-1", "Tổng số đoàn viên không được nhỏ hơn 0"),
    ("so_cuoc_hop", "13", "Số cuộc họp không được lớn hơn 12"),
]


@pytest.mark.parametrize(("key", "text", "message"), VIETNAMESE)
def test_a_bad_figure_has_a_vietnamese_message_naming_the_label(
    key: str, text: str, message: str
) -> None:
    _, errors = parse_figures(RULES, {key: text}, sector="fdi")
    assert [e.vietnamese() for e in errors] == [message]


def test_women_members_above_all_members_is_refused_in_vietnamese() -> None:
    raw = {"so_doan_vien": "1.200", "so_doan_vien_nu": "1.250"}
    values, errors = parse_figures(RULES, raw, sector=None)
    assert values == {"so_doan_vien": Decimal(1200), "so_doan_vien_nu": Decimal(1250)}
    assert errors == [
        FigureError(
            "so_doan_vien_nu",
            "exceeds",
            {
                "label": "Trong đó nữ",
                "other_key": "so_doan_vien",
                "other_value": "1.200",
                "other_label_lower": "tổng số đoàn viên",
            },
        )
    ]
    assert errors[0].vietnamese() == "Trong đó nữ không được lớn hơn tổng số đoàn viên"
    assert errors[0].english() == "must not exceed so_doan_vien (1.200)"


@pytest.mark.parametrize(
    "raw",
    [
        {"so_doan_vien": "120", "so_doan_vien_nu": "120"},
        {"so_doan_vien": "120", "so_doan_vien_nu": "0"},
        {"so_doan_vien_nu": "120"},  # the total was not reported: nothing to compare with
        {"so_doan_vien": "abc", "so_doan_vien_nu": "120"},  # only the bad total is reported
    ],
)
def test_the_cross_check_passes_when_the_part_fits_or_the_whole_is_missing(
    raw: dict[str, str],
) -> None:
    _, errors = parse_figures(RULES, raw, sector=None)
    assert [e.code for e in errors if e.code == "exceeds"] == []


def test_empty_cells_are_not_reported() -> None:
    raw = {"so_doan_vien": "", "so_doan_vien_nu": "   ", "so_khong_co": "", "xep_loai": "Khá"}
    assert parse_figures(RULES, raw, sector=None) == ({"xep_loai": "Khá"}, [])


def test_every_problem_in_a_form_is_reported_at_once() -> None:
    raw = {"so_doan_vien": "abc", "ty_le_tang": "xyz", "so_khong_co": "1", "kinh_phi": "5.000"}
    values, errors = parse_figures(RULES, raw, sector=None)
    assert values == {"kinh_phi": Decimal(5000)}
    assert [(e.key, e.code) for e in errors] == [
        ("so_doan_vien", "not_integer"),
        ("ty_le_tang", "not_number"),
        ("so_khong_co", "unknown"),
    ]


@pytest.mark.parametrize(
    ("text", "integer", "expected"),
    [
        ("13.800.000", True, Decimal(13800000)),
        ("-1.000", True, Decimal(-1000)),
        ("12,5", False, Decimal("12.5")),
        ("12.5", False, Decimal("12.5")),
        ("1.250", False, Decimal(1250)),
        ("1.25", False, Decimal("1.25")),
    ],
)
def test_parse_number_reads_dots_as_thousands_and_commas_as_decimals(
    text: str, integer: bool, expected: Decimal
) -> None:
    assert parse_number(text, integer=integer) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("13800000"), "13.800.000"),
        (Decimal("12.5"), "12,5"),
        (Decimal("12.5000"), "12,5"),  # as Numeric(24, 4) returns it
        (Decimal("100.0000"), "100"),
        (Decimal("0"), "0"),
        (Decimal("999"), "999"),
        (Decimal("1250.75"), "1.250,75"),
        (Decimal("-1234.5"), "-1.234,5"),
        (Decimal("-0.5"), "-0,5"),
    ],
)
def test_format_number_writes_vietnamese_style(value: Decimal, text: str) -> None:
    assert format_number(value) == text
