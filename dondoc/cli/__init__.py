"""The `dondoc` command line (English): one readable line and a non-zero exit on errors."""

from __future__ import annotations

import os
import sys

from sqlalchemy.exc import DBAPIError

from dondoc.cli import consolidate as _consolidate  # noqa: F401 (registers its commands)
from dondoc.cli import outbox as _outbox  # noqa: F401 (registers its commands)
from dondoc.cli.app import app
from dondoc.errors import DondocError, InputError
from dondoc.settings import SettingsError


def main() -> None:
    try:
        app(standalone_mode=False)
    except InputError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"nothing was written ({len(exc.problems)} problem(s))", file=sys.stderr)
        sys.exit(1)
    except (DondocError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        print(f"error: database: {reason} (has `dondoc init` been run?)", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # the last guard: a person gets one line, not a traceback
        _unexpected(exc)


def _unexpected(exc: Exception) -> None:
    import click

    if isinstance(exc, click.exceptions.Exit):
        sys.exit(exc.exit_code)
    if isinstance(exc, click.exceptions.Abort):
        sys.exit(130)
    if isinstance(exc, click.ClickException):
        exc.show()
        sys.exit(exc.exit_code)
    if os.environ.get("DONDOC_DEBUG"):
        raise exc
    print(
        f"error: unexpected {type(exc).__name__}: {exc} (set DONDOC_DEBUG=1 for details)",
        file=sys.stderr,
    )
    sys.exit(2)
