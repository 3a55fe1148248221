"""Run the real `dondoc` entry point in-process and capture what a person would see."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from dondoc.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    old = sys.argv
    sys.argv = ["dondoc", *args]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
