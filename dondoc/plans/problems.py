"""Turn pydantic validation errors into located problems (FILE:LINE: field: message)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from dondoc.errors import Problem
from dondoc.plans.yamlsource import LineIndex, Path_, format_loc, line_of

_PREFIXES = ("Value error, ", "Assertion failed, ")


def clean_loc(loc: tuple[str | int, ...]) -> Path_:
    # Pydantic adds union branch tags ("list[constrained-str]", "literal['all']") to locations.
    return tuple(p for p in loc if isinstance(p, int) or not any(c in p for c in "[('\""))


def clean_message(msg: str) -> str:
    for prefix in _PREFIXES:
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def from_validation_error(
    exc: ValidationError,
    file: str,
    line: Callable[[Path_], int | None],
    field: Callable[[Path_], str] = format_loc,
) -> list[Problem]:
    """One problem per distinct (location, message)."""
    seen: set[tuple[Path_, str]] = set()
    problems = []
    for err in exc.errors(include_url=False):
        loc = clean_loc(err["loc"])
        msg = clean_message(err["msg"])
        if (loc, msg) in seen:
            continue
        seen.add((loc, msg))
        problems.append(Problem(file, line(loc), field(loc), msg))
    return problems


def in_yaml(exc: ValidationError, file: str, index: LineIndex) -> list[Problem]:
    return from_validation_error(exc, file, lambda loc: line_of(index, loc))
