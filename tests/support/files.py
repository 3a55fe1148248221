"""Copies of the example files, altered one line at a time for the validation tests."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED = "q1-so-ket-2015.yaml"
CITY = "hcm-78-kh-ldld-2015.yaml"
UNITS = "units-q1.csv"


def copy_examples(dest: Path) -> Path:
    for name in (SEED, CITY, UNITS):
        shutil.copy(EXAMPLES / name, dest / name)
    return dest


def replace_once(path: Path, old: str, new: str) -> int:
    """Replace the first occurrence of `old`; return the 1-based line where it was."""
    text = path.read_text(encoding="utf-8")
    index = text.index(old)
    path.write_text(text[:index] + new + text[index + len(old) :], encoding="utf-8")
    return text.count("\n", 0, index) + 1


def line_containing(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")
