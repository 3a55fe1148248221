"""Commands for consolidations: run now (or preview), list the versions, accept one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dondoc.cli.app import ACTOR, AtOption, _now, app, console
from dondoc.db import session_scope
from dondoc.settings import get_settings


@app.command()
def consolidate(
    campaign: Annotated[str, typer.Argument(help="Campaign code.")],
    requirement: Annotated[
        str | None, typer.Option("--requirement", "-r", help="Only this requirement.")
    ] = None,
    preview: Annotated[
        Path | None,
        typer.Option("--preview", help="Write the files to this folder; record nothing."),
    ] = None,
    at: AtOption = None,
) -> None:
    """Consolidate what has been received now (or --at): a new version unless this state
    was consolidated already. With --preview, only write the files."""
    from dondoc.campaigns import get_campaign
    from dondoc.consolidation_notice import summarise
    from dondoc.rollup import Storage, requirements_of, run_now
    from dondoc.rollup import preview as write_preview

    settings, now = get_settings(), _now(at)
    storage = Storage(settings.tz, settings.effective_storage_dir)
    with session_scope() as session:
        camp = get_campaign(session, campaign)
        for req in requirements_of(session, camp, requirement):
            if preview is not None:
                out = preview / req.code
                paths = write_preview(session, req, now=now, storage=storage, out=out)
                console.print(f"{req.code}: preview written: {', '.join(str(p) for p in paths)}")
                continue
            row = run_now(session, camp, req, now=now, by=ACTOR, storage=storage)
            s = summarise(session, row)
            console.print(
                f"{req.code}: version {s.version} ({s.reason}), {s.counts.submitted}/"
                f"{s.counts.expected} submitted, {s.counts.missing} missing; files: "
                + ", ".join(name for _, name in s.files)
            )


@app.command()
def consolidations(campaign: Annotated[str, typer.Argument(help="Campaign code.")]) -> None:
    """The consolidation versions of a campaign, newest first."""
    from sqlmodel import col, select

    from dondoc.campaigns import get_campaign
    from models import Consolidation, Requirement

    tz = get_settings().tz
    with session_scope() as session:
        camp = get_campaign(session, campaign)
        rows = session.exec(
            select(Consolidation, Requirement.code)
            .join(Requirement, col(Requirement.id) == Consolidation.requirement_id)
            .where(Requirement.campaign_id == camp.id)
            .order_by(col(Requirement.position), col(Consolidation.version).desc())
        ).all()
        if not rows:
            console.print(f"{campaign}: no consolidation yet")
        for row, code in rows:
            accepted = f"accepted by {row.accepted_by}" if row.accepted_at else "not accepted"
            up = f", rolled up as submission {row.rollup_submission_id}"
            console.print(
                f"{code} v{row.version}: {row.reason} as of "
                f"{row.as_of.astimezone(tz):%d/%m/%Y %H:%M}, {row.submitted}/{row.expected} "
                f"submitted, {row.missing} missing; {accepted}"
                + (up if row.rollup_submission_id else "")
            )


@app.command("accept-consolidation")
def accept_consolidation(
    campaign: Annotated[str, typer.Argument(help="Campaign code.")],
    requirement: Annotated[str, typer.Argument(help="Requirement code.")],
    version: Annotated[int, typer.Argument(help="The version to accept.")],
    by: Annotated[str, typer.Option("--by", help="Who accepts (recorded).")] = ACTOR,
    at: AtOption = None,
) -> None:
    """Accept a consolidation version; when the plan reports up, it becomes the issuing
    unit's submission in the parent campaign."""
    from sqlmodel import select

    from dondoc.campaigns import get_campaign
    from dondoc.errors import DondocError
    from dondoc.rollup import accept, requirements_of
    from models import Consolidation

    now = _now(at)
    with session_scope() as session:
        [req] = requirements_of(session, get_campaign(session, campaign), requirement)
        row = session.exec(
            select(Consolidation).where(
                Consolidation.requirement_id == req.id, Consolidation.version == version
            )
        ).first()
        if row is None:
            raise DondocError(f"{campaign}/{requirement} has no consolidation version {version}")
        accepted = accept(session, row.id or 0, by=by, now=now)
        up = accepted.rollup_submission_id
        console.print(
            f"{requirement} v{version} accepted by {accepted.accepted_by}"
            + (f"; rolled up as submission {up} in the parent campaign" if up else "")
        )
