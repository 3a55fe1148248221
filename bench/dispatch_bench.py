"""Dispatching the outbox: 1,000 emails through dondoc's dispatcher (claim, re-check, write the
text, mark sending, Apprise over SMTP, record) to a local SMTP server (aiosmtpd), against a bare
smtplib loop to the same server; then 1,000 Zalo template messages to the fake Zalo API over HTTP.

    PYTHONPATH=. .venv/bin/python bench/dispatch_bench.py [--messages 1000] [--paced 25]
        [--processes 1 2] [--server process|thread] [--rounds 3]
    PYTHONPATH=. .venv/bin/python bench/dispatch_bench.py \
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/test

(PYTHONPATH=. from the checkout: it serves the test suite's SMTP server and fake Zalo.) The SMTP
server runs in its own process by default (bench/smtp_sink.py), as a real one would; `--server
thread` puts the test suite's in a thread of this process. `--processes 1 2` also times two
dispatcher processes sharing the outbox. dondoc's own pacing (Settings.send_rates: by default at
most 5 emails and 3 Zalo messages a second per process) is switched off for the throughput figures:
`dispatch(..., pacer=None)` is dispatch_due without it. `--paced N` also sends N emails with
that pacing on, to show the cap it sets."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import smtplib
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from dashboard_load import database
from pydantic import SecretStr
from remind_bench import NOW, build
from smtp_sink import smtp_process
from sqlalchemy import Engine
from sqlmodel import Session

from dondoc.compose import Composer
from dondoc.db import make_engine
from dondoc.dispatch import Pacer, dispatch
from dondoc.migrate import upgrade
from dondoc.outbox import NewDelivery, enqueue
from dondoc.reminding import Recheck
from dondoc.settings import get_settings
from dondoc.zalotokens import DatabaseTokenStore, seed_tokens
from notifications.base import Channel
from notifications.email import Email, EmailChannel, send_email
from notifications.zalo import ZaloClient, ZaloConfig
from notifications.zalochannel import ZaloChannel
from tests.support.fake_zalo import FakeClock, FakeZalo
from tests.support.server import serving
from tests.support.smtp import smtp_server
from tests.test_zalo_outbox import BEFORE as TEMPLATE  # dondoc's parameters, as registered

SUBJECT = "[01/KH-LĐLĐ] Nhắc nộp Báo cáo sơ kết — hạn 23:59 thứ Ba, ngày 24/11/2015"
BODY = (
    "Kính gửi: Ban Chấp hành CĐCS Công ty TNHH số {i}\n\n"
    "Thực hiện Kế hoạch số 01/KH-LĐLĐ, đề nghị đơn vị gửi Báo cáo sơ kết trước 23:59 thứ Ba, "
    "ngày 24/11/2015 (còn 3 ngày làm việc) tại: http://127.0.0.1:8000/u/{i}\n\n"
    "Trân trọng.\nVăn phòng Liên đoàn Lao động quận\n"
) * 3  # about the length of dondoc's reminder


def rows(n: int, channel: str, run: int = 0) -> list[NewDelivery]:
    """One message per assignment (ids 1..n), all due now: the step due at NOW (T−3), which
    the re-check lets through; each run to other addresses of the same units (the outbox
    takes a step once per recipient)."""
    return [_row(i, channel, run) for i in range(n)]


def _row(i: int, channel: str, run: int) -> NewDelivery:
    """As the planner makes it: who gets which step; the text is written as it is sent."""
    tag = f"+r{run}" if run else ""
    address = f"cd{i}{tag}@example.invalid" if channel == "email" else f"849{i:08d}"
    return NewDelivery(
        campaign_id=1, assignment_id=i + 1, step_key="before-3", deadline_version=0, kind="before",
        channel=channel, recipient=address, not_before=NOW,
        params={"template": "before", "unit_code": f"CD{i:06d}"},
    )  # fmt: skip


def _zalo_params(i: int) -> dict[str, str]:
    """The bare loop's template data: what dondoc writes for a T−3 reminder."""
    return {"template": "before", "unit": f"CĐCS Công ty TNHH số {i}",
            "deadline": "23:59 24/11/2015", "days_left": "còn 3 ngày làm việc",
            "plan_number": "01/KH-LĐLĐ",
            "office_phone": "0900 001 302", "link": f"http://127.0.0.1:8000/u/{i}"}  # fmt: skip


def put(engine: Engine, items: list[NewDelivery]) -> None:
    with Session(engine) as session:
        for start in range(0, len(items), 1000):
            enqueue(session, items[start : start + 1000], now=NOW)
        session.commit()


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_dispatch(engine: Engine, channels: dict[str, Channel], pacer: Pacer | None) -> Counter[str]:
    settings = get_settings()
    return dispatch(engine, channels, now=NOW, worker="bench", limit=100_000,
                    recheck=Recheck(settings.tz), compose=Composer(settings),
                    pacer=pacer)  # fmt: skip


def bare_smtplib(port: int, n: int, *, reuse: bool) -> None:
    """The reference: the same messages straight through smtplib, no database."""
    if reuse:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(n):
                smtp.send_message(_mime(i))
        return
    for i in range(n):
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(_mime(i))


def apprise_alone(n: int) -> None:
    """The same messages through dondoc's email channel without the outbox: what Apprise, with
    its fresh object and one recipient per message (over the channel's kept SMTP connection),
    costs by itself."""
    settings = get_settings()
    for i in range(n):
        send_email(Email(f"cd{i}@example.invalid", SUBJECT, BODY.format(i=i)), settings)


def _mime(i: int) -> EmailMessage:
    mime = EmailMessage()
    mime["From"], mime["To"], mime["Subject"] = (
        "dondoc@localhost",
        f"cd{i}@example.invalid",
        SUBJECT,
    )
    mime.set_content(BODY.format(i=i))
    return mime


def email_figures(engine: Engine, url: str, n: int, args: argparse.Namespace, tmp: Path) -> None:
    """`--rounds` rounds, each timing dondoc then the references back to back: the host's speed
    drifts within minutes, so each ratio is taken within one round, and the median reported."""
    with email_server(args.server, tmp) as (received, port):
        os.environ["DONDOC_SMTP_URL"] = f"mailto://127.0.0.1:{port}"
        get_settings.cache_clear()
        channels: dict[str, Channel] = {"email": EmailChannel(get_settings())}
        times: dict[str, list[float]] = {}
        runs = 0
        for _ in range(args.rounds):
            for workers in args.processes:
                put(engine, rows(n, "email", run=runs))
                runs += 1
                if workers == 1:
                    seconds, summary = timed(lambda: run_dispatch(engine, channels, None))
                else:
                    seconds, summary = in_processes(url, workers, os.environ["DONDOC_SMTP_URL"])
                assert summary == Counter({"sent": n}) and received() == runs * n, summary
                times.setdefault(_dondoc(workers), []).append(seconds)
            for label, reference in references(port, n):
                seconds, _ = timed(reference)
                runs += 1
                assert received() == runs * n
                times.setdefault(label, []).append(seconds)
        for label, seconds in times.items():
            report(label, n, seconds)
        for workers in args.processes:
            ours = times[_dondoc(workers)]
            print(f"  dondoc, {_processes(workers)}, against each reference, round by round:")
            for label, _ in references(port, n):
                shares = [ref / mine for ref, mine in zip(times[label], ours, strict=True)]
                share(label, shares)
        if args.paced:
            put(engine, rows(args.paced, "email", run=runs))
            rates = get_settings().send_rates
            slow, _ = timed(lambda: run_dispatch(engine, channels, Pacer(rates)))
            report(f"dondoc dispatch, email, paced at {rates['email']:g}/s", args.paced, [slow])
        _check_once(received.envelopes(), n, runs, args.paced)


def _processes(workers: int) -> str:
    return "one process" if workers == 1 else f"{workers} processes"


def _dondoc(workers: int) -> str:
    return f"dondoc dispatch, email, {_processes(workers)} (no pacing)"


def references(port: int, n: int) -> list[tuple[str, Callable[[], object]]]:
    return [
        ("bare smtplib loop, one connection", lambda: bare_smtplib(port, n, reuse=True)),
        ("bare smtplib loop, a connection per message",
         lambda: bare_smtplib(port, n, reuse=False)),
        ("Apprise alone (the email channel, no database)", lambda: apprise_alone(n)),
    ]  # fmt: skip


@contextmanager
def email_server(where: str, tmp: Path) -> Iterator[tuple[Received, int]]:
    """The SMTP server in its own process (as a real one is), or in a thread of this one (the
    test suite's, which parses every message)."""
    if where == "process":
        with smtp_process(tmp) as (sink, port):
            yield Received(lambda: sink.envelopes), port
        return
    with smtp_server() as (inbox, port):
        yield Received(lambda: [rcpts for _, rcpts in inbox.envelopes]), port


class Received:
    def __init__(self, envelopes: Callable[[], list[list[str]]]) -> None:
        self.envelopes = envelopes

    def __call__(self) -> int:
        return len(self.envelopes())


def in_processes(url: str, workers: int, smtp_url: str) -> tuple[float, Counter[str]]:
    """`workers` dispatcher processes sharing the outbox (claims of 50 rows), timed from the
    moment all are ready (imports, engine, channel) until the last one finds nothing to do."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(workers + 1), context.Queue()
    processes = [
        context.Process(target=_dispatcher, args=(url, f"w{k}", smtp_url, start, results))
        for k in range(workers)
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    summary: Counter[str] = sum((Counter(results.get()) for _ in processes), Counter())
    seconds = time.perf_counter() - began
    for process in processes:
        process.join()
    return seconds, summary


def _dispatcher(url: str, worker: str, smtp_url: str, start: Any, results: Any) -> None:
    os.environ["DONDOC_SMTP_URL"] = smtp_url
    engine = make_engine(url)
    channels: dict[str, Channel] = {"email": EmailChannel(get_settings())}
    with engine.connect():
        pass  # the pool's first connection, before the clock starts
    start.wait()
    settings = get_settings()
    summary = dispatch(engine, channels, now=NOW, worker=worker, limit=100_000,
                       recheck=Recheck(settings.tz), compose=Composer(settings))  # fmt: skip
    results.put(dict(summary))
    engine.dispose()


def _check_once(envelopes: list[list[str]], n: int, runs: int, paced: int) -> None:
    """Every recipient got exactly what was queued for it, bare loops included."""
    counts = Counter(re.sub(r"\+r\d+@", "@", rcpt) for rcpts in envelopes for rcpt in rcpts)
    expected = {f"cd{i}@example.invalid": runs + (i < paced) for i in range(n)}
    assert counts == expected, "a message was lost or sent twice"


@contextmanager
def zalo_channel(engine: Engine) -> Iterator[tuple[FakeZalo, ZaloChannel, str]]:
    clock = FakeClock(NOW)
    fake = FakeZalo(clock=clock, templates={"before": TEMPLATE})
    fake.set_quota(10 * 1000 * 1000)
    with serving(fake.app()) as base:
        access, refresh = fake.issue_pair()
        with Session(engine) as session:
            seed_tokens(session, app_id=fake.app_id, access=access, refresh=refresh,
                        expires_at=NOW + timedelta(hours=25), now=NOW)  # fmt: skip
            session.commit()
        config = ZaloConfig(app_id=fake.app_id, secret_key=SecretStr(fake.secret_key),
                            base_url=base, oauth_url=f"{base}/v4/oa/access_token",
                            templates={"before": TEMPLATE})  # fmt: skip
        client = ZaloClient(config, DatabaseTokenStore(engine, fake.app_id, clock=clock),
                            clock=clock)  # fmt: skip
        try:
            yield fake, ZaloChannel(client), access
        finally:
            client.close()


def zalo_figures(engine: Engine, n: int) -> None:
    with zalo_channel(engine) as (fake, channel, access):
        put(engine, rows(n, "zalo"))
        seconds, summary = timed(lambda: run_dispatch(engine, {"zalo": channel}, None))
        assert summary == Counter({"sent": n}) and len(fake.messages) == n, summary
        report("dondoc dispatch, Zalo (no pacing)", n, [seconds])
        base = str(channel.client.config.base_url)
        bare, _ = timed(lambda: bare_httpx(base, access, n))
        assert len(fake.messages) == 2 * n
        report("bare httpx loop to the fake Zalo", n, [bare])
        share("the bare httpx loop (dondoc, Zalo)", [bare / seconds])


def bare_httpx(base: str, access: str, n: int) -> None:
    with httpx.Client(base_url=base, headers={"access_token": access}) as http:
        for i in range(n):
            data = {k: v for k, v in _zalo_params(i).items() if k != "template"}
            body = {"phone": f"84900{i:06d}", "template_id": TEMPLATE.template_id,
                    "template_data": data, "tracking_id": f"bare{i}"}  # fmt: skip
            assert http.post("/message/template", json=body).json()["error"] == 0


def report(label: str, n: int, seconds: list[float]) -> None:
    """The median time of the rounds."""
    middle = statistics.median(seconds)
    print(f"  {label:48} {n:>5} in {middle:6.2f} s = {n / middle:7.1f}/s")


def share(label: str, shares: list[float]) -> None:
    """dondoc's throughput as a share of a reference's: the median, then each round's."""
    each = ", ".join(f"{x:.0%}" for x in shares)
    print(f"    {statistics.median(shares):4.0%} of {label} ({each})")


def measure(url: str, args: argparse.Namespace, tmp: Path) -> None:
    engine = make_engine(url)
    upgrade(engine)
    n = args.messages
    build(engine, n, submitted=0.0, exempt=0.0)
    print(f"{engine.dialect.name}: {n} messages per run, SMTP server in a {args.server}")
    email_figures(engine, url, n, args, tmp)
    zalo_figures(engine, n)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    rounds = "email: rounds of dondoc then the references; each ratio within a round"
    parser.add_argument("--rounds", type=int, default=3, help=rounds)
    parser.add_argument("--paced", type=int, default=0, help="also send N emails paced")
    parser.add_argument("--pg", default=None, help="PostgreSQL admin URL (default: SQLite)")
    where = "the SMTP server in its own process (default) or in a thread"
    parser.add_argument("--server", choices=("process", "thread"), default="process", help=where)
    workers = "dispatcher processes, one figure each (1 must be among them)"
    parser.add_argument("--processes", type=int, nargs="+", default=[1], help=workers)
    args = parser.parse_args()
    if 1 not in args.processes:
        parser.error("--processes must include 1 (the bare loops are compared with it)")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DONDOC_VAR_DIR"] = tmp
        with database(Path(tmp), args.pg) as url:
            measure(url, args, Path(tmp))


if __name__ == "__main__":
    main()
