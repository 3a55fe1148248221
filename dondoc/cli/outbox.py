"""Commands for the outbox: the messages whose outcome is unknown, and the office's decision."""

from __future__ import annotations

from typing import Annotated

import typer

from dondoc.cli.app import ACTOR, AtOption, _now, app, console
from dondoc.db import session_scope

outbox_app = typer.Typer(help="Messages waiting in the outbox.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("unknown")
def outbox_unknown(campaign: Annotated[str, typer.Argument(help="Campaign code.")]) -> None:
    """Messages whose outcome is unknown (check with the recipient, then `outbox settle`)."""
    from dondoc.campaigns import get_campaign
    from dondoc.privacy import mask_contact
    from dondoc.settle import unknown_rows

    with session_scope() as session:
        rows = unknown_rows(session, get_campaign(session, campaign).id or 0)
    if not rows:
        console.print(f"{campaign}: no message with an unknown outcome")
    for r in rows:
        console.print(
            f"{r.delivery_id}\t{r.unit_code or 'office'}\t{r.step_key}\t{r.channel}\t"
            f"{mask_contact(r.recipient)}\t{r.last_error or ''}",
            highlight=False,
        )


@outbox_app.command("settle")
def outbox_settle(
    delivery_id: Annotated[int, typer.Argument(help="The message (from `outbox unknown`).")],
    sent: Annotated[
        bool, typer.Option("--sent/--resend", help="It reached the recipient / send it again.")
    ],
    by: Annotated[str, typer.Option("--by", help="Who decides (recorded).")] = ACTOR,
    at: AtOption = None,
) -> None:
    """Record the office's decision on a message whose outcome is unknown."""
    from dondoc.settle import settle

    with session_scope() as session:
        state = settle(session, delivery_id, sent=sent, by=by, now=_now(at))
    console.print(f"delivery {delivery_id}: {state}")
