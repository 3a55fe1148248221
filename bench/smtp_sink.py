"""An SMTP server in its own process, for the dispatch benchmark: it accepts every message and
writes one line per envelope (its recipients) to a file, nothing more; the parent reads what it
received from that file. In its own process it neither shares the GIL with the client it
measures nor parses messages on the clock (the test suite's in-process server does both)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from aiosmtpd.controller import Controller

from tests.support.server import free_port


class _Handler:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.out.write(" ".join(envelope.rcpt_tos) + "\n")
        self.out.flush()  # read by the parent while this process runs
        return "250 OK"


def _serve(port: int, path: str, ready: Any) -> None:
    with Path(path).open("a", encoding="utf-8") as out:
        controller = Controller(_Handler(out), hostname="127.0.0.1", port=port)
        controller.start()
        ready.set()
        threading.Event().wait()  # until the parent terminates this process


class SinkLog:
    """What the sink received so far: one list of recipients per message."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def envelopes(self) -> list[list[str]]:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [line.split(" ") for line in lines]

    def __len__(self) -> int:
        return len(self.envelopes)


@contextmanager
def smtp_process(directory: Path) -> Iterator[tuple[SinkLog, int]]:
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    port, path = free_port(), directory / "smtp-sink.log"
    path.write_text("", encoding="utf-8")
    process = context.Process(target=_serve, args=(port, str(path), ready), daemon=True)
    process.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the SMTP sink did not start")
        yield SinkLog(path), port
    finally:
        process.terminate()
        process.join()
