"""The office's actions as the CLI runs them: look up by code, then call the services."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import select

from dondoc.campaigns import assigned_units, get_assignment, get_campaign, get_unit
from dondoc.db import session_scope
from dondoc.errors import DondocError
from dondoc.intake import record_submission
from dondoc.office import exempt, extend
from dondoc.rules.deadlines import DeadlineError, parse_deadline
from dondoc.rules.figures import parse_figures
from dondoc.settings import get_settings
from dondoc.storage import StoredFile, store_path
from models import Extension, IndicatorDefinition, Submission
from models.enums import Channel

ACTOR = "cli"
OFFICE_CHANNELS = (Channel.OFFICE, Channel.EMAIL, Channel.ZALO)


def _channel(text: str) -> Channel:
    try:
        channel = Channel(text)
    except ValueError:
        channel = None
    if channel not in OFFICE_CHANNELS:
        raise DondocError(f"channel must be one of {', '.join(c.value for c in OFFICE_CHANNELS)}")
    return channel


def _pairs(values: list[str]) -> dict[str, str]:
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DondocError(f"--value {item!r}: expected key=value")
        pairs[key.strip()] = value.strip()
    return pairs


def _store(files: list[Path]) -> list[StoredFile]:
    root = get_settings().effective_storage_dir
    for f in files:
        if not f.is_file():
            raise DondocError(f"{f}: no such file")
    return [store_path(root, f) for f in files]


def record(
    campaign_code: str,
    unit_code: str,
    *,
    files: list[Path],
    channel: str,
    requirement: str | None,
    values: list[str],
    received_at: datetime,
    note: str | None,
    now: datetime,
) -> Submission:
    chosen = _channel(channel)
    raw = _pairs(values)
    with session_scope() as session:
        unit = get_unit(session, unit_code)
        assignment, req = get_assignment(
            session, get_campaign(session, campaign_code), unit, requirement
        )
        rules = [
            r
            for r in session.exec(
                select(IndicatorDefinition).where(
                    IndicatorDefinition.campaign_id == req.campaign_id
                )
            )
            if r.key in req.indicator_keys
        ]
        parsed, errors = parse_figures(rules, raw, sector=unit.sector)
        if errors:
            raise DondocError("; ".join(f"{e.key}: {e.english()}" for e in errors))
        stored = _store(files)  # files are durable before the row that points at them
        return record_submission(
            session,
            assignment=assignment,
            received_at=received_at,
            channel=chosen,
            files=stored,
            values=parsed,
            recorded_by=ACTOR,
            note=note,
            now=now,
        )


def grant_extension(
    campaign_code: str,
    unit_code: str,
    *,
    until: str,
    reason: str,
    by: str,
    requirement: str | None,
    now: datetime,
) -> Extension:
    try:
        deadline = parse_deadline(until)
    except DeadlineError as exc:
        raise DondocError(f"--until: {exc}") from exc
    with session_scope() as session:
        unit = get_unit(session, unit_code)
        assignment, req = get_assignment(
            session, get_campaign(session, campaign_code), unit, requirement
        )
        return extend(
            session,
            assignment,
            req,
            until=deadline,
            reason=reason,
            by=by,
            now=now,
            tz=get_settings().tz,
        )


def grant_exemption(
    campaign_code: str,
    unit_code: str,
    *,
    reason: str,
    by: str,
    requirement: str | None,
    now: datetime,
) -> None:
    with session_scope() as session:
        unit = get_unit(session, unit_code)
        assignment, _ = get_assignment(
            session, get_campaign(session, campaign_code), unit, requirement
        )
        exempt(session, assignment, reason=reason, by=by, now=now)


def upload_links(
    campaign_code: str, *, unit: str | None, reissue: bool, now: datetime
) -> list[tuple[str, str]]:
    """(unit code, URL) for every unit with an assignment in the campaign (or one unit)."""
    from dondoc.links import issue_link, link_url, token_for

    settings = get_settings()
    with session_scope() as session:
        campaign = get_campaign(session, campaign_code)
        units = assigned_units(session, campaign.id or 0)
        if unit is not None:
            units = [u for u in units if u.code == unit] or [get_unit(session, unit)]
        out = []
        for u in units:
            make = issue_link if reissue else token_for
            token = make(
                session,
                campaign_id=campaign.id or 0,
                unit_id=u.id or 0,
                secret=settings.secret(),
                by=ACTOR,
                now=now,
            )
            out.append((u.code, link_url(settings.public_base_url, token)))
        return out
