"""A dispatcher in a process of its own, for the fault tests (tests/test_dispatch_kill.py).

    python -m tests.support.dispatcher_process --worker W [--die after-claim|after-send --at N]
                                               [--batch K] [--zalo BASE APP_ID SECRET]

It dispatches the due outbox rows with the real channels (email over SMTP from the settings in
its environment, Zalo against the fake Zalo's URL) and, with --die, dies like a kill -9
(os._exit: no cleanup, no rollback, no flush) at one exact point of the N-th row:
- after-claim: the row is claimed (committed) and nothing is sent yet — the hook is the re-check
  the dispatcher runs between its claim and `mark_sending`;
- after-send: the SMTP server or the fake Zalo has accepted the message and the dispatcher has
  not recorded it — the hook wraps the channel's `send`.
Production code is not changed: both hooks are what dispatch() takes as arguments. When it
lives, it prints its summary as JSON."""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from dondoc.db import get_engine
from dondoc.dispatch import Recheck, dispatch
from dondoc.reminding import Verdict
from dondoc.remindrun import recheck_reminders
from dondoc.settings import get_settings
from dondoc.zalotokens import DatabaseTokenStore
from models import Delivery
from notifications.base import Channel, Sent
from notifications.email import EmailChannel
from notifications.zalo import ZaloClient, ZaloConfig
from notifications.zalochannel import ZaloChannel
from tests.test_zalo_outbox import BEFORE

NOW = datetime(2015, 11, 19, 1, 5, tzinfo=UTC)  # Thu 19/11/2015 08:05 local
KILLED = 9


@dataclass(frozen=True)
class ZaloSetup:
    base: str
    app_id: str
    secret: str


def channels(engine: Engine, zalo: ZaloSetup | None) -> dict[str, Channel]:
    """Email from the settings (DONDOC_SMTP_URL); Zalo against `zalo.base`, its clock frozen
    at NOW like the fake's, so that the seeded access token stays valid."""
    found: dict[str, Channel] = {"email": EmailChannel(get_settings())}
    if zalo is not None:
        config = ZaloConfig(app_id=zalo.app_id, secret_key=SecretStr(zalo.secret),
                            base_url=zalo.base, oauth_url=f"{zalo.base}/v4/oa/access_token",
                            templates={"before": BEFORE}, timeout=5)  # fmt: skip
        store = DatabaseTokenStore(engine, zalo.app_id, clock=lambda: NOW)
        found["zalo"] = ZaloChannel(ZaloClient(config, store, clock=lambda: NOW))
    return found


class DieAfterSend:
    """The channel, except that the process dies once the provider has the n-th message."""

    def __init__(self, inner: Channel, nth: Callable[[], bool]) -> None:
        self.name, self.inner, self.nth = inner.name, inner, nth
        # As the channel itself: email is sent from the dispatcher's sender thread.
        self.overlaps = bool(getattr(inner, "overlaps", False))

    def send(self, delivery: Delivery, *, now: datetime) -> str | Sent | None:
        provider_id = self.inner.send(delivery, now=now)
        if self.nth():
            os._exit(KILLED)
        return provider_id


def die_after_claim(nth: Callable[[], bool]) -> Recheck:
    def recheck(session: Session, delivery: Delivery, now: datetime) -> Verdict:
        if nth():
            os._exit(KILLED)
        return recheck_reminders(session, delivery, now)

    return recheck


def run(args: argparse.Namespace) -> Counter[str]:
    engine = get_engine()
    zalo = ZaloSetup(*args.zalo) if args.zalo else None
    found = channels(engine, zalo)
    recheck: Recheck = recheck_reminders
    seen = count(1)
    nth = lambda: next(seen) == args.at  # noqa: E731
    if args.die == "after-send":
        found = {name: DieAfterSend(channel, nth) for name, channel in found.items()}
    elif args.die == "after-claim":
        recheck = die_after_claim(nth)
    summary: Counter[str] = Counter()
    # Small batches, claimed one after the other, so that two processes share the rows.
    while batch := dispatch(engine, found, now=NOW, worker=args.worker, limit=args.batch,
                            recheck=recheck):  # fmt: skip
        summary += batch
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--die", choices=["after-claim", "after-send"])
    parser.add_argument("--at", type=int, default=1, help="die at the n-th row")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--zalo", nargs=3, metavar=("BASE", "APP_ID", "SECRET"))
    print(json.dumps(run(parser.parse_args())))


if __name__ == "__main__":
    main()
