"""The roll-up, end to end through the flows: three district federations consolidate their
grassroots unions' reports, their offices accept the drafts, each draft becomes the district's
submission in the city campaign, and the city's consolidation of the three equals adding up
every grassroots union directly."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from prefect.logging import disable_run_logger
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dondoc.campaigns import get_campaign
from dondoc.consolidation import ConsolidationError
from dondoc.db import session_scope
from dondoc.plans.loader import load_plan
from dondoc.rollup import accept
from dondoc.rules import aggregate_codec
from dondoc.rules.aggregate import Aggregate, UnitFigures, aggregate
from dondoc.rules.deadlines import VN_TZ
from flows.consolidate import consolidate
from flows.tracking import track_submissions
from models import (
    Consolidation,
    IndicatorDefinition,
    Requirement,
    Submission,
    SubmissionFile,
    Target,
)
from models.enums import Channel
from tests.support.consolidating import Figures, figures, requirement_units, send_report
from tests.support.districts import district_plan
from tests.support.tracking import accept as accept_submission
from tests.support.tracking import load_city, load_seed, local

pytest_plugins = ["tests.prefect_harness"]

CITY = "hcm-78-2015"
DISTRICTS = {"q1-so-ket-2015": "LDLD-Q1", "q3-so-ket-2015": "LDLD-Q3", "q5-so-ket-2015": "LDLD-Q5"}
GROUP = "CĐCS trực thuộc"


def load_family(dest: Path) -> None:
    load_seed(dest)
    load_city(dest)
    for district, number in (("Q3", 96), ("Q5", 97)):
        path = district_plan(dest, district, number, grassroots=8)
        with session_scope() as session:
            load_plan(session, path, now=local("2015-11-16 08:00"), actor="test", tz=VN_TZ)


def submit_grassroots(rng: random.Random) -> list[UnitFigures]:
    """Every CĐCS of the three districts reports, accepted at once; what they sent."""
    sent = []
    for campaign in DISTRICTS:
        with session_scope() as session:
            units = requirement_units(session, campaign, "cdcs")
        for unit in units:
            values: Figures = figures(rng, unit.sector)
            send_report(campaign, unit.code, local("2015-11-23 09:00"), values)
            sent.append(UnitFigures(unit.code, unit.name, unit.sector, GROUP, values))
    return sent


def track_and_consolidate(at: str) -> dict[str, int]:
    """One tracking run, then the consolidate flow for each claim it made (what the
    deployment's event trigger does); requirement code -> consolidation id."""
    with disable_run_logger():
        sweeps = track_submissions(now=local(at), settle_seconds=0)
    claims = [(f"{s.campaign_code}/{c.requirement_code}", c) for s in sweeps for c in s.claimed]
    return {key: consolidate(c.requirement_id, c.state_key).consolidation_id for key, c in claims}


def directly(session: Session, units: list[UnitFigures]) -> Aggregate:
    city = get_campaign(session, CITY)
    definitions = list(
        session.exec(
            select(IndicatorDefinition)
            .where(IndicatorDefinition.campaign_id == city.id)
            .order_by(col(IndicatorDefinition.position))
        )
    )
    targets = list(session.exec(select(Target).where(Target.campaign_id == city.id)))
    keys = {d.key for d in definitions}
    return aggregate(definitions, [t for t in targets if t.indicator in keys], units)


@pytest.mark.usefixtures("prefect_harness")
def test_the_city_consolidation_of_three_districts_equals_adding_up_every_grassroots_union(
    engine: Engine, tmp_path: Path
) -> None:
    load_family(tmp_path / "plans")
    sent = submit_grassroots(random.Random(78))

    drafts = track_and_consolidate("2015-11-24 10:00")
    districts = {key: cid for key, cid in drafts.items() if key.endswith("/cdcs")}
    assert sorted(districts) == [f"{c}/cdcs" for c in DISTRICTS]
    with session_scope() as session:
        for cid in districts.values():
            accept(session, cid, by="vanphong", now=local("2015-11-25 08:00"))
        rollups = session.exec(
            select(Submission).where(Submission.channel == Channel.ROLLUP.value)
        ).all()
        assert len(rollups) == 3
        files = session.exec(
            select(SubmissionFile).where(
                col(SubmissionFile.submission_id).in_([r.id for r in rollups])
            )
        ).all()
        assert len(files) == 9  # workbook, draft and archive of each district
    for r in rollups:  # the city office reviews the districts' reports like any other
        accept_submission(r.id or 0, local("2015-11-26 09:00"))

    city_drafts = track_and_consolidate("2015-11-26 09:10")

    [city_id] = [cid for key, cid in city_drafts.items() if key.startswith(CITY)]
    with session_scope() as session:
        city = session.get_one(Consolidation, city_id)
        combined = aggregate_codec.load(city.totals)
        direct = directly(session, sent)
        assert (city.submitted, city.expected) == (3, 3)
        assert combined.totals == direct.totals
        assert combined.by_sector == direct.by_sector
        assert combined.targets == direct.targets
        assert combined.reporting_units == direct.reporting_units == len(sent)
        members = combined.totals["so_doan_vien"].value
        assert members == sum(u.values["so_doan_vien"] for u in sent)  # type: ignore[misc]


@pytest.mark.usefixtures("prefect_harness")
def test_accepting_twice_rolls_up_once_and_an_older_version_cannot_replace_a_newer_one(
    engine: Engine, tmp_path: Path
) -> None:
    load_family(tmp_path / "plans")
    submit_grassroots(random.Random(5))
    first = track_and_consolidate("2015-11-24 10:00")["q3-so-ket-2015/cdcs"]
    send_report("q3-so-ket-2015", "Q3-CD001", local("2015-11-24 11:00"), {"so_cnvcld": 1})  # type: ignore[dict-item]
    second = track_and_consolidate("2015-11-24 11:10")["q3-so-ket-2015/cdcs"]

    with session_scope() as session:
        accepted = accept(session, second, by="vanphong", now=local("2015-11-25 08:00"))
        again = accept(session, second, by="vanphong", now=local("2015-11-25 08:01"))
        assert accepted.rollup_submission_id == again.rollup_submission_id is not None
        with pytest.raises(ConsolidationError, match="version 2 is accepted already"):
            accept(session, first, by="vanphong", now=local("2015-11-25 08:02"))
        rollups = session.exec(
            select(Submission).where(Submission.channel == Channel.ROLLUP.value)
        ).all()
        assert [r.version for r in rollups] == [1]
        requirement = session.exec(
            select(Requirement).where(Requirement.id == accepted.requirement_id)
        ).one()
        assert requirement.code == "cdcs"
