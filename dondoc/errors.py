"""Error types that reach people: each carries a message fit to print as one line."""

from __future__ import annotations

from dataclasses import dataclass


class DondocError(Exception):
    """Base for errors the CLI prints as one readable line (no traceback)."""


class NotFoundError(DondocError):
    pass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as FILE:LINE: field."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class InputError(DondocError):
    """An input file is invalid; nothing was written. Holds every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
