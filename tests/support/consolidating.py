"""Submissions with figures and a .docx report, as units send them, and the claims that start a
consolidation."""

from __future__ import annotations

import io
import random
from datetime import datetime
from decimal import Decimal

import docx
from sqlmodel import Session, col, select

from dondoc.campaigns import get_assignment, get_campaign, get_unit
from dondoc.completion import Claim, claim_completions
from dondoc.db import session_scope
from dondoc.intake import record_submission
from dondoc.office import review
from dondoc.rules.deadlines import VN_TZ
from dondoc.settings import get_settings
from dondoc.storage import store
from models import Requirement, RequirementCompletion, Unit
from models.enums import Channel

Figures = dict[str, Decimal | str]


def report_docx(unit_name: str, outline: list[str]) -> bytes:
    """A unit's narrative report: its header, then a line of its own under each heading."""
    document = docx.Document()
    document.add_paragraph(unit_name.upper())
    for heading in outline:
        document.add_paragraph(heading)._p.style = "Heading1"  # by id: see docxkit.add_paragraph
        document.add_paragraph(f"{unit_name}: nội dung mục {heading.split('.')[0]}.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def figures(rng: random.Random, sector: str | None) -> Figures:
    workers = rng.randint(25, 900)
    members = rng.randint(workers * 6 // 10, workers)
    values: Figures = {
        "so_cnvcld": Decimal(workers),
        "so_doan_vien": Decimal(members),
        "so_doan_vien_nu": Decimal(members // 2),
        "dv_ket_nap_moi": Decimal(rng.randint(0, 200)),
        "xep_loai_2014": rng.choice(["VMXS", "VM", "VM", "Khá", "TB"]),
        "gioi_thieu_dang": Decimal(rng.randint(0, 12)),
        "kinh_phi_cham_lo": Decimal(rng.randint(10, 400) * 1_000_000),
    }
    if sector in ("state", "non_state", "fdi"):
        values["co_tuldtt"] = Decimal(rng.choice([1, 1, 0]))
    return values


def send_report(
    campaign: str,
    unit_code: str,
    at: datetime,
    values: Figures,
    *,
    outline: list[str] | None = None,
    accept: bool = True,
) -> int:
    """A unit's report with its figures (and a .docx when an outline is given)."""
    root = get_settings().effective_storage_dir
    with session_scope() as session:
        unit = get_unit(session, unit_code)
        assignment, _ = get_assignment(session, get_campaign(session, campaign), unit)
        files = []
        if outline is not None:
            data = report_docx(unit.name, outline)
            files.append(store(root, f"Bao cao {unit_code}.docx", io.BytesIO(data)))
        sub = record_submission(
            session, assignment=assignment, received_at=at, channel=Channel.PORTAL,
            files=files, values=values, now=at,
        )  # fmt: skip
        if accept:
            review(session, sub, assignment, accept=True, reason=None, by="vanthu", now=at)
        return sub.id or 0


def claim_now(campaign: str, at: datetime) -> list[Claim]:
    with session_scope() as session:
        _, won = claim_completions(session, get_campaign(session, campaign), now=at, tz=VN_TZ)
        return won


def completion_id(session: Session, claim: Claim) -> int:
    row = session.exec(
        select(RequirementCompletion).where(
            RequirementCompletion.requirement_id == claim.requirement_id,
            RequirementCompletion.state_key == claim.state_key,
        )
    ).one()
    return row.id or 0


def requirement_units(session: Session, campaign: str, requirement: str) -> list[Unit]:
    from models import Assignment

    req = session.exec(
        select(Requirement).where(
            Requirement.code == requirement,
            Requirement.campaign_id == get_campaign(session, campaign).id,
        )
    ).one()
    return list(
        session.exec(
            select(Unit)
            .join(Assignment, col(Assignment.unit_id) == Unit.id)
            .where(Assignment.requirement_id == req.id)
            .order_by(col(Unit.code))
        )
    )
