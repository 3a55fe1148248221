from __future__ import annotations

import unicodedata

import pytest

from dondoc.rules.docnumber import DocNumber, DocNumberError, Style, parse_doc_number

GOOD: list[tuple[str, str, str | None, str, int | None, Style]] = [
    # text, number, type, issuer, year, style
    ("78/KH-LĐLĐ", "78", "KH", "LĐLĐ", None, "standard"),
    ("06b/NQ-TLĐ", "06b", "NQ", "TLĐ", None, "standard"),
    ("12/BC-UBKT", "12", "BC", "UBKT", None, "standard"),
    ("05/BC-LĐLĐ.Q1", "05", "BC", "LĐLĐ.Q1", None, "standard"),
    ("15/QĐ-LĐLĐ-VP", "15", "QĐ", "LĐLĐ-VP", None, "standard"),
    ("95/KH-LĐLĐ", "95", "KH", "LĐLĐ", None, "standard"),
    ("933/QĐ-TLĐ", "933", "QĐ", "TLĐ", None, "standard"),
    ("12/TTr-LĐLĐ", "12", "TTr", "LĐLĐ", None, "standard"),
    ("1234/QĐ-TTg", "1234", "QĐ", "TTg", None, "standard"),
    ("01/HD-ĐOÀN", "01", "HD", "ĐOÀN", None, "standard"),
    ("243/LĐLĐ", "243", None, "LĐLĐ", None, "dispatch"),
    ("243/LĐLĐ-TC", "243", None, "LĐLĐ-TC", None, "dispatch"),
    ("07/UBND", "07", None, "UBND", None, "dispatch"),
    ("09/2019/NĐ-CP", "09", "NĐ", "CP", 2019, "legal"),
    ("30/2020/NĐ-CP", "30", "NĐ", "CP", 2020, "legal"),
    ("01/2011/TT-BNV", "01", "TT", "BNV", 2011, "legal"),
    ("10/2012/QH13", "10", None, "QH13", 2012, "legal"),
    ("79-KL/TW", "79", "KL", "TW", None, "party"),
    ("20-NQ/TW", "20", "NQ", "TW", None, "party"),
    ("05-CT/TU", "05", "CT", "TU", None, "party"),
]

TOLERATED = [
    # written, canonical
    ("  78/KH-LĐLĐ  ", "78/KH-LĐLĐ"),
    ("78 / KH - LĐLĐ", "78/KH-LĐLĐ"),
    ("09 / 2019 / NĐ - CP", "09/2019/NĐ-CP"),
    ("79 - KL / TW", "79-KL/TW"),
    ("78/KH\u2013LĐLĐ", "78/KH-LĐLĐ"),  # en dash from a word processor
    (unicodedata.normalize("NFD", "06b/NQ-TLĐ.ĐỒNG"), "06b/NQ-TLĐ.ĐỒNG"),
]

BAD = [
    # text, part of the message
    ("", "expected a number and symbol like 78/KH-LĐLĐ"),
    ("78", "expected a number and symbol"),
    ("KH-LĐLĐ", "expected a number and symbol"),
    ("78/KH LĐLĐ", "expected a number and symbol"),
    ("78/KH-LĐLĐ/X/Y", "expected a number and symbol"),
    ("78/", "expected a number and symbol"),
    ("/KH-LĐLĐ", "expected a number and symbol"),
    ("78/-LĐLĐ", "expected a number and symbol"),
    ("78/KH-", "expected a number and symbol"),
    ("78/KH-LĐLĐ.", "expected a number and symbol"),
    ("78/KH-LĐLĐ..Q1", "expected a number and symbol"),
    ("1.5/KH-LĐLĐ", "expected a number and symbol"),
    ("78a1/KH-LĐLĐ", "expected a number and symbol"),
    ("6/KH-LĐLĐ", "write 06/KH-LĐLĐ: numbers below 10 take one leading zero"),
    ("6b/NQ-TLĐ", "write 06b/NQ-TLĐ"),
    ("9-KL/TW", "write 09-KL/TW"),
    ("9/2019/NĐ-CP", "write 09/2019/NĐ-CP"),
    ("078/KH-LĐLĐ", "write 78/KH-LĐLĐ: numbers from 10 up take no leading zero"),
    ("006/KH-LĐLĐ", "write 06/KH-LĐLĐ"),
    ("0/KH-LĐLĐ", "expected a number from 01 up"),
    ("00/LĐLĐ", "expected a number from 01 up"),
    ("06B/NQ-TLĐ", "write 06b/NQ-TLĐ: a letter after the number is lower case"),
    ("78/kh-lđlđ", "the symbol is written in capitals: 78/KH-LĐLĐ"),
    ("79-kl/tw", "the symbol is written in capitals: 79-KL/TW"),
    ("78/KH", "expected the issuer after the type"),
    ("09/19/NĐ-CP", "expected a 4-digit year"),
    ("09/1900/NĐ-CP", "expected a year between 1945 and 2100"),
    ("09/2101/NĐ-CP", "expected a year between 1945 and 2100"),
    ("79-K1/TW", "expected a Party document number like 79-KL/TW"),
]


@pytest.mark.parametrize(("text", "number", "doc_type", "issuer", "year", "style"), GOOD)
def test_it_parses_the_forms_offices_write(
    text: str, number: str, doc_type: str | None, issuer: str, year: int | None, style: Style
) -> None:
    assert parse_doc_number(text) == DocNumber(number, doc_type, issuer, year, style)


@pytest.mark.parametrize("text", [row[0] for row in GOOD])
def test_its_text_round_trips(text: str) -> None:
    parsed = parse_doc_number(text)
    assert str(parsed) == text
    assert parse_doc_number(str(parsed)) == parsed


@pytest.mark.parametrize(("written", "canonical"), TOLERATED)
def test_it_removes_spaces_and_normalises_unicode(written: str, canonical: str) -> None:
    assert str(parse_doc_number(written)) == canonical


@pytest.mark.parametrize(("text", "message"), BAD)
def test_it_rejects_what_is_not_a_document_number(text: str, message: str) -> None:
    with pytest.raises(DocNumberError) as raised:
        parse_doc_number(text)
    assert message in str(raised.value)


def test_its_errors_are_value_errors_for_validators() -> None:
    assert issubclass(DocNumberError, ValueError)
