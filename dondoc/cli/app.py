"""Typer commands. Each command: parse arguments, open one unit of work, call the service
functions, print. No business rules here."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlmodel import col, select

from dondoc.cli import views
from dondoc.db import get_engine, session_scope, table
from dondoc.errors import DondocError
from dondoc.settings import get_settings

app = typer.Typer(
    name="dondoc",
    help="Report campaigns for trade-union federations: plans, submissions, status.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
plan_app = typer.Typer(help="Plan files (kế hoạch).", no_args_is_help=True)
units_app = typer.Typer(help="The organisation tree.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(units_app, name="units")
# Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)

ACTOR = "cli"
AtOption = Annotated[
    str | None,
    typer.Option("--at", help="Local date-time, e.g. '2015-11-25 09:00' (default: now)."),
]


def _now(at: str | None = None) -> datetime:
    """The one clock reading of a command: now, or the moment given with --at."""
    from dondoc.rules.deadlines import DeadlineError, parse_local_datetime

    if not at:
        return datetime.now(UTC)
    try:
        return parse_local_datetime(at, get_settings().tz)
    except DeadlineError as exc:
        raise DondocError(f"--at: {exc}") from exc


@app.command()
def init() -> None:
    """Create or upgrade the database schema."""
    from dondoc.migrate import current_revision, upgrade

    engine = get_engine()
    upgrade(engine)
    console.print(f"database ready at revision {current_revision(engine)}: {engine.url!r}")


@plan_app.command("load")
def plan_load(file: Annotated[Path, typer.Argument(help="Plan file (YAML).")]) -> None:
    """Validate a plan file and load it (all or nothing; loading again updates it)."""
    from dondoc.plans.loader import load_plan

    with session_scope() as session:
        result = load_plan(session, file, now=_now(), actor=ACTOR, tz=get_settings().tz)
    views.print_load_result(console, result)


@plan_app.command("check")
def plan_check(file: Annotated[Path, typer.Argument(help="Plan file (YAML).")]) -> None:
    """Validate a plan file against the database without writing anything."""
    from dondoc.plans.loader import load_plan

    with session_scope() as session:
        result = load_plan(session, file, now=_now(), actor=ACTOR, tz=get_settings().tz)
        session.rollback()
    console.print(f"{file}: valid ({result.assignments} assignments); nothing was written")


@units_app.command("import")
def units_import(file: Annotated[Path, typer.Argument(help="Unit list (.csv or .xlsx).")]) -> None:
    """Import or update units and their contacts from a CSV or XLSX list."""
    from dondoc.plans.unitimport import import_units

    with session_scope() as session:
        result = import_units(session, file, now=_now(), actor=ACTOR)
    console.print(f"{file}: {result.created} unit(s) created, {result.updated} updated")


@app.command()
def campaigns() -> None:
    """List the campaigns."""
    from dondoc.cli.queries import campaign_summaries

    with session_scope() as session:
        views.print_campaigns(console, campaign_summaries(session), get_settings().tz)


@app.command()
def status(
    campaign: Annotated[str, typer.Argument(help="Campaign code.")],
    at: AtOption = None,
    requirement: Annotated[str | None, typer.Option(help="Only this requirement.")] = None,
    only: Annotated[
        str | None, typer.Option("--status", help="Only units with this status.")
    ] = None,
) -> None:
    """Counts per requirement and each unit's status, deadline and last submission."""
    from dondoc.campaigns import get_campaign
    from dondoc.rules.status import Status
    from dondoc.tracking import campaign_status

    wanted = Status(only) if only else None
    now = _now(at)
    with session_scope() as session:
        camp = get_campaign(session, campaign)
        rows = campaign_status(session, camp, now=now, requirement=requirement)
    views.print_status(console, camp, rows, now=now, tz=get_settings().tz, only=wanted)


@app.command()
def submit(
    campaign: Annotated[str, typer.Argument(help="Campaign code.")],
    unit: Annotated[str, typer.Argument(help="Unit code.")],
    file: Annotated[list[Path] | None, typer.Option("--file", help="Report file(s).")] = None,
    channel: Annotated[str, typer.Option(help="office | email | zalo")] = "office",
    requirement: Annotated[str | None, typer.Option(help="Requirement code.")] = None,
    value: Annotated[
        list[str] | None, typer.Option("--value", help="A figure: key=value (repeatable).")
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="When it was received.")] = None,
    note: Annotated[str | None, typer.Option(help="A note for the file.")] = None,
) -> None:
    """Record a submission the office received on paper, by email or by Zalo."""
    from dondoc.cli.actions import record

    sub = record(
        campaign,
        unit,
        files=file or [],
        channel=channel,
        requirement=requirement,
        values=value or [],
        received_at=_now(at),
        note=note,
        now=_now(),
    )
    console.print(f"recorded version {sub.version} for {unit} (receipt {sub.id})")


@app.command()
def extend(
    campaign: Annotated[str, typer.Argument(help="Campaign code.")],
    unit: Annotated[str, typer.Argument(help="Unit code.")],
    until: Annotated[str, typer.Option(help="New deadline, e.g. 'đến hết ngày 27/11/2015'.")],
    reason: Annotated[str, typer.Option(help="Why the extension is granted.")],
    by: Annotated[str, typer.Option(help="Who grants it.")] = ACTOR,
    requirement: Annotated[str | None, typer.Option(help="Requirement code.")] = None,
) -> None:
    """Grant a unit a later deadline."""
    from dondoc.cli.actions import grant_extension

    ext = grant_extension(
        campaign, unit, until=until, reason=reason, by=by, requirement=requirement, now=_now()
    )
    console.print(f"{unit}: deadline version {ext.version}, new deadline {ext.due_text}")


@app.command()
def exempt(
    campaign: Annotated[str, typer.Argument(help="Campaign code.")],
    unit: Annotated[str, typer.Argument(help="Unit code.")],
    reason: Annotated[str, typer.Option(help="Why the unit need not submit.")],
    by: Annotated[str, typer.Option(help="Who decides.")] = ACTOR,
    requirement: Annotated[str | None, typer.Option(help="Requirement code.")] = None,
) -> None:
    """Exempt a unit from submitting (e.g. being dissolved)."""
    from dondoc.cli.actions import grant_exemption

    grant_exemption(campaign, unit, reason=reason, by=by, requirement=requirement, now=_now())
    console.print(f"{unit}: exempt")


users_app = typer.Typer(help="Office accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    name: Annotated[str, typer.Option(help="Name shown in the dashboard.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create an office account (the password is stored as an Argon2 hash)."""
    from dondoc.accounts import create_user

    with session_scope() as session:
        create_user(session, username=username, display_name=name, password=password, now=_now())
    console.print(f"user {username} created")


@app.command()
def links(
    campaign: Annotated[str, typer.Argument(help="Campaign code.")],
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
    reissue: Annotated[bool, typer.Option(help="Revoke the current link(s), issue new.")] = False,
) -> None:
    """Print the units' secret upload links (issuing them on first use)."""
    from dondoc.cli.actions import upload_links

    for code, url in upload_links(campaign, unit=unit, reissue=reissue, now=_now()):
        console.print(f"{code}\t{url}", soft_wrap=True, highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (one per CPU core serves the most).")
    ] = 1,
) -> None:
    """Run the web app (units' upload pages and the office dashboard)."""
    import uvicorn

    if workers == 1:
        from web.app import create_app

        uvicorn.run(create_app(), host=host, port=port, log_level="info")
        return
    # Several processes: each imports and builds the app itself.
    factory = "web.app:create_app"
    uvicorn.run(factory, factory=True, host=host, port=port, workers=workers, log_level="info")


@users_app.command("ensure-demo")
def users_ensure_demo(
    username: Annotated[str, typer.Option(help="Login name.")] = "vanphong",
) -> None:
    """Create the local demo account once (random password kept in var/office-login.txt)."""
    from dondoc.accounts import ensure_demo_user

    settings = get_settings()
    with session_scope() as session:
        password = ensure_demo_user(
            session, username=username, var_dir=settings.var_dir, now=_now()
        )
    console.print(f"office login: {username} / {password}", highlight=False)


remind_app = typer.Typer(help="Reminders by email and Zalo.", no_args_is_help=True)
app.add_typer(remind_app, name="remind")


@remind_app.command("preview")
def remind_preview(
    campaign: Annotated[str, typer.Argument(help="Campaign code.")], at: AtOption = None
) -> None:
    """Who would get what now (or --at), on which channel; who is skipped and why. Sends nothing."""
    from dondoc.campaigns import get_campaign
    from dondoc.reminding import plan_campaign
    from notifications.registry import build_channels

    settings, now = get_settings(), _now(at)
    with session_scope() as session:
        camp = get_campaign(session, campaign)
        plan = plan_campaign(
            session, camp, now=now, settings=settings, zalo="zalo" in build_channels(settings)
        )
        session.rollback()  # a preview writes nothing
    views.print_reminder_plan(console, plan, now=now, tz=settings.tz)


@remind_app.command("send-now")
def remind_send_now(
    campaign: Annotated[str, typer.Argument(help="Campaign code.")], at: AtOption = None
) -> None:
    """Plan the due steps and send them now (each step still goes out once only)."""
    from dondoc.campaigns import get_campaign
    from dondoc.dispatch import run_worker
    from dondoc.remindrun import dispatch_due, plan_and_enqueue

    settings, now = get_settings(), _now(at)
    with session_scope() as session:
        campaign_id = get_campaign(session, campaign).id or 0
    added, plan = plan_and_enqueue(get_engine(), campaign_id, now=now, settings=settings)
    sent = dispatch_due(
        get_engine(), now=now, settings=settings, worker=run_worker("cli"), campaign_id=campaign_id
    )
    console.print(
        f"{added} message(s) planned, {len(plan.skipped)} unit(s) skipped; "
        f"dispatched: {dict(sent) or 'nothing due'}"
    )


calendar_app = typer.Typer(
    help="Swap days and extra days off (override the holidays).", no_args_is_help=True
)
app.add_typer(calendar_app, name="calendar")


@calendar_app.command("set")
def calendar_set(
    day: Annotated[str, typer.Argument(help="Date, e.g. 06/02/2016.")],
    working: Annotated[bool, typer.Option("--working/--off", help="A working day, or a day off.")],
    note: Annotated[str, typer.Option(help="Why (e.g. the government's decision).")] = "",
) -> None:
    """Make a day a working day (a worked Saturday) or a day off, for every unit."""
    from models import CalendarDay

    date_ = _calendar_day(day)
    # The column's length, as the schema has it (SQLModel's AutoString passes it through).
    longest: int | None = getattr(table(CalendarDay).c.note.type, "length", None)
    if longest is not None and len(note) > longest:
        raise DondocError(f"note: at most {longest} characters, got {len(note)}")
    with session_scope() as session:
        row = session.exec(select(CalendarDay).where(CalendarDay.day == date_)).first()
        row = row or CalendarDay(day=date_, working=working)
        row.working, row.note = working, note
        session.add(row)
    console.print(f"{date_:%d/%m/%Y}: {'working day' if working else 'day off'}")


@calendar_app.command("unset")
def calendar_unset(day: Annotated[str, typer.Argument(help="Date, e.g. 06/02/2016.")]) -> None:
    """Remove a day's override (e.g. a swap day entered by mistake): the usual calendar applies."""
    from models import CalendarDay

    date_ = _calendar_day(day)
    with session_scope() as session:
        row = session.exec(select(CalendarDay).where(CalendarDay.day == date_)).first()
        if row is None:
            raise DondocError(f"day: {date_:%d/%m/%Y} has no override to remove")
        session.delete(row)
    console.print(f"{date_:%d/%m/%Y}: override removed (the usual calendar applies)")


def _calendar_day(day: str) -> date:
    from dondoc.rules.deadlines import DeadlineError, parse_local_date

    try:
        return parse_local_date(day)
    except DeadlineError as exc:
        raise DondocError(f"day: {exc}") from exc


@calendar_app.command("list")
def calendar_list() -> None:
    """The overrides in force."""
    from models import CalendarDay

    with session_scope() as session:
        rows = session.exec(select(CalendarDay).order_by(col(CalendarDay.day))).all()
        for row in rows:  # tab-separated for scripts: typer.echo keeps the tabs rich expands
            kind = "working day" if row.working else "day off"
            typer.echo(f"{row.day:%d/%m/%Y}\t{kind}\t{row.note}")
    if not rows:
        console.print("no overrides: the holidays and each unit's working week apply")


zalo_app = typer.Typer(help="The Zalo Official Account.", no_args_is_help=True)
app.add_typer(zalo_app, name="zalo")


@zalo_app.command("status")
def zalo_status() -> None:
    """The stored token pair's state and the day's quota as Zalo's last answer gave it."""
    from models import ZaloToken

    tz = get_settings().tz
    with session_scope() as session:
        rows = session.exec(select(ZaloToken).order_by(col(ZaloToken.app_id))).all()
        for row in rows:
            console.print(views.zalo_status_line(row, tz), highlight=False)
    if not rows:
        console.print("no Zalo token pair stored: run `dondoc zalo tokens`")


@zalo_app.command("tokens")
def zalo_tokens(
    app_id: Annotated[str, typer.Option(help="The Zalo app id.")],
    access: Annotated[str, typer.Option(prompt=True, hide_input=True, help="Access token.")],
    refresh: Annotated[str, typer.Option(prompt=True, hide_input=True, help="Refresh token.")],
    expires_in: Annotated[int, typer.Option(help="Seconds the access token has left.")] = 90000,
) -> None:
    """Store the token pair obtained when the OA authorised the app (after that, dondoc
    refreshes it itself; the refresh token is single-use)."""
    from datetime import timedelta

    from dondoc.zalotokens import seed_tokens

    now = _now()
    with session_scope() as session:
        seed_tokens(session, app_id=app_id, access=access, refresh=refresh,
                    expires_at=now + timedelta(seconds=expires_in), now=now)  # fmt: skip
    console.print(f"Zalo tokens stored for app {app_id}")
