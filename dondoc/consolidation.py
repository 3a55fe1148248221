"""Drafting the consolidated report of a claimed state, once: read the source, build the
workbook, the draft and the archive, store the files durably, then insert the version row.

The row's unique completion_id is the claim that makes a retried or doubled flow run harmless:
the loser of the race finds the winner's row and returns it. Files are content-addressed, so a
loser's stored copies are the winner's bytes."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from dondoc.errors import DondocError
from dondoc.reports.archive import build_archive, folder_name
from dondoc.reports.document import build_document
from dondoc.reports.model import ReportInput, Section
from dondoc.reports.narrative import OTHER, NarrativeError, extract_sections
from dondoc.reports.workbook import build_workbook
from dondoc.reportsource import Source, UnitFile, read_source, report_input
from dondoc.rules import aggregate_codec
from dondoc.storage import StoredFile, store
from models import Consolidation, ConsolidationFile, RequirementCompletion

log = logging.getLogger(__name__)
_VERSION_RETRIES = 5


class ConsolidationError(DondocError):
    pass


@dataclass(frozen=True)
class Drafted:
    report: ReportInput
    files: list[tuple[str, str, bytes]]  # (kind, file name, content)


def draft(session: Session, source: Source, *, tz: ZoneInfo, storage_root: Path) -> Drafted:
    """The three outputs, in memory; nothing written."""
    contents = [(f, (storage_root / f.storage_path).read_bytes()) for f in source.files]
    report = report_input(
        session, source, gather_sections(source.requirement.outline, contents), tz=tz
    )
    stem = f"{source.campaign.code}_{source.requirement.code}"
    archive = build_archive(
        ((folder_name(f.unit_code, f.unit_name), f.name, data) for f, data in contents),
        report.fixed_moment,
    )
    return Drafted(
        report,
        [
            ("workbook", f"{stem}_tong-hop.xlsx", build_workbook(report)),
            ("document", f"{stem}_du-thao-bao-cao.docx", build_document(report)),
            ("archive", f"{stem}_bao-cao-cac-don-vi.zip", archive),
        ],
    )


def gather_sections(
    outline: Sequence[str], files: Sequence[tuple[UnitFile, bytes]]
) -> list[Section]:
    """Per outline heading, what each unit wrote under it in its .docx report(s)."""
    said: dict[str, list[tuple[str, str]]] = {heading: [] for heading in outline}
    for f, data in files:
        if not f.name.lower().endswith(".docx"):
            continue
        try:
            sections = extract_sections(data, outline)
        except NarrativeError as exc:
            log.warning("%s %s: no narrative taken: %s", f.unit_code, f.name, exc)
            continue
        for heading, text in sections.items():
            if heading != OTHER and text.strip() and heading in said:
                said[heading].append((f.unit_name, text.strip()))
    return [(heading, said[heading]) for heading in outline]


def consolidate_claim(
    session: Session,
    completion_id: int,
    *,
    now: datetime,
    tz: ZoneInfo,
    storage_root: Path,
    flow_run_id: str | None = None,
) -> Consolidation:
    """The consolidation of a claimed state: the existing one, or a new version."""
    existing = for_completion(session, completion_id)
    if existing is not None:
        return existing
    claim = session.get_one(RequirementCompletion, completion_id)
    source = read_source(session, claim.requirement_id, as_of=claim.seen_at)
    drafted = draft(session, source, tz=tz, storage_root=storage_root)
    stored = [
        (kind, store(storage_root, name, io.BytesIO(data))) for kind, name, data in drafted.files
    ]
    return _insert(
        session,
        claim,
        lambda version: _row(claim, drafted, stored, version, now=now, flow_run_id=flow_run_id),
        stored,
    )


def for_completion(session: Session, completion_id: int) -> Consolidation | None:
    return session.exec(
        select(Consolidation).where(Consolidation.completion_id == completion_id)
    ).first()


def stalled_claims(session: Session, *, seen_before: datetime) -> list[tuple[int, str]]:
    """Claims seen before `seen_before` that have no consolidation yet: their event was lost
    or the trigger is off. (requirement id, state key), oldest first."""
    rows = session.exec(
        select(RequirementCompletion.requirement_id, RequirementCompletion.state_key)
        .outerjoin(Consolidation, col(Consolidation.completion_id) == RequirementCompletion.id)
        .where(col(Consolidation.id).is_(None), RequirementCompletion.seen_at <= seen_before)
        .order_by(col(RequirementCompletion.seen_at), col(RequirementCompletion.id))
    )
    return [(rid, key) for rid, key in rows]


def files_of(session: Session, consolidation_id: int) -> list[ConsolidationFile]:
    return list(
        session.exec(
            select(ConsolidationFile)
            .where(ConsolidationFile.consolidation_id == consolidation_id)
            .order_by(col(ConsolidationFile.id))
        )
    )


def _row(
    claim: RequirementCompletion,
    drafted: Drafted,
    stored: Sequence[tuple[str, StoredFile]],
    version: int,
    *,
    now: datetime,
    flow_run_id: str | None,
) -> Consolidation:
    counts = drafted.report.counts()
    digest = hashlib.sha256("".join(f"{k}:{f.sha256}\n" for k, f in stored).encode()).hexdigest()
    return Consolidation(
        requirement_id=claim.requirement_id,
        completion_id=claim.id or 0,
        version=version,
        reason=claim.reason,
        as_of=claim.seen_at,
        created_at=now,
        flow_run_id=flow_run_id,
        expected=counts.expected,
        submitted=counts.submitted,
        on_time=counts.on_time,
        late=counts.late,
        missing=counts.missing,
        exempt=counts.exempt,
        content_sha256=digest,
        totals=aggregate_codec.dump(drafted.report.aggregate),
    )


def _insert(
    session: Session,
    claim: RequirementCompletion,
    make: Callable[[int], Consolidation],
    stored: Sequence[tuple[str, StoredFile]],
) -> Consolidation:
    """Number the version and insert; a concurrent draft of the same state wins or loses on
    uq_consolidation_completion, one of another state on uq_consolidation_version (retry)."""
    requirement_id, completion_id = claim.requirement_id, claim.id or 0
    for _ in range(_VERSION_RETRIES):
        row = make(_next_version(session, requirement_id))
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
                for kind, f in stored:
                    session.add(_file_row(row, kind, f))
                session.flush()
            return row
        except IntegrityError:
            existing = for_completion(session, completion_id)
            if existing is not None:
                return existing
    raise ConsolidationError(f"could not number a consolidation of requirement {requirement_id}")


def _next_version(session: Session, requirement_id: int) -> int:
    current = session.exec(
        select(func.max(Consolidation.version)).where(
            Consolidation.requirement_id == requirement_id
        )
    ).one()
    return int(current or 0) + 1


def _file_row(row: Consolidation, kind: str, f: StoredFile) -> ConsolidationFile:
    stem, _, ext = f.name.rpartition(".")
    return ConsolidationFile(
        consolidation_id=row.id or 0,
        kind=kind,
        name=f"{stem}_v{row.version}.{ext}",
        size=f.size,
        sha256=f.sha256,
        storage_path=f.storage_path,
    )
