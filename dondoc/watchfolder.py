"""The watched folder: reports the office saved from email, each recorded exactly once.

One folder per campaign, named by its code, under the `watch_dir` setting:

    <watch_dir>/<campaign code>/Q1-CD012_bao-cao.pdf         the unit code starts the name
    <watch_dir>/<campaign code>/bao-cao.pdf + bao-cao.pdf.txt  ...or a sidecar names the unit
    <watch_dir>/<campaign code>/done/       recorded (or recorded before) files, with sidecars
    <watch_dir>/<campaign code>/rejected/   files that could not be recorded + <name>.why.txt

The unit code in a file name is the longest known unit code the name starts with (any case),
followed by '_', ' ', '-', '.' or the end of the name: `Q1-CD012_x.pdf`, `q1-cd012 - x.docx`
and `Q1-CD012-bao-cao.pdf` are Q1-CD012, `LDLD-Q1-BTC_x.pdf` is LDLD-Q1-BTC (not LDLD-Q1).
Codes contain dashes themselves, so cutting the name at the first '-' would not do.

A sidecar `X.txt` holds the unit code on its first line and, for a unit with several
requirements, the requirement code on the second; `X.json` holds {"unit": …, "requirement": …,
"received_at": "24/11/2015 16:30"} (local time). A sidecar wins over the file name; `X.txt`
with X having an extension of its own (`bao-cao.pdf.txt`) is always a sidecar and waits for X.
Hidden and partial files (`.x`, `~$x`, `x.part`, `x.tmp`, `x.crdownload`) and files modified
less than `settle_seconds` ago (still being copied) are left for a later sweep.

Exactly once: the file is stored, then recorded with source_ref "watch:<sha256 of content>"
(unique per assignment) and committed, and only then moved to done/. A crash in between leaves
the file in place; the next sweep finds its source_ref and only moves it. The same content
dropped again for the same unit is not a new version either."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dondoc.db import session_scope
from dondoc.intake import record_submission
from dondoc.rules.deadlines import DeadlineError, parse_local_datetime
from dondoc.settings import Settings
from dondoc.storage import FileTooLargeError, StoredFile, store
from models import Assignment, Requirement, Submission, Unit
from models.enums import Channel

RECORDED_BY = "watch-folder"
DONE, REJECTED = "done", "rejected"
SIDECARS = (".txt", ".json")
_SEPARATORS = "_ -."
_PARTIAL = (".part", ".partial", ".tmp", ".crdownload")


class WatchError(Exception):
    """Why a file cannot be recorded, in words for the office (written to rejected/)."""


@dataclass(frozen=True)
class WatchConfig:
    folder: Path  # <watch_dir>/<campaign code>
    storage_root: Path
    max_bytes: int
    tz: ZoneInfo
    settle_seconds: float = 60


@dataclass(frozen=True)
class Target:
    unit_code: str
    requirement_code: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class Recorded:
    submission_id: int
    assignment_id: int
    unit_code: str
    requirement_code: str
    version: int
    file_name: str


@dataclass
class IntakeResult:
    recorded: list[Recorded] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # recorded before: only moved
    rejected: dict[str, str] = field(default_factory=dict)  # file name -> reason


def watch_config(settings: Settings, campaign_code: str, settle_seconds: float) -> WatchConfig:
    if settings.watch_dir is None:
        raise ValueError("no watch_dir configured")
    return WatchConfig(
        settings.watch_dir / campaign_code,
        settings.effective_storage_dir,
        settings.max_upload_bytes,
        settings.tz,
        settle_seconds,
    )


# --- names (pure) ---------------------------------------------------------------------------


def unit_code_from_name(name: str, codes: list[str]) -> str | None:
    upper = name.upper()
    found = [
        c
        for c in codes
        if upper.startswith(c.upper()) and (len(name) == len(c) or name[len(c)] in _SEPARATORS)
    ]
    return max(found, key=len, default=None)


def is_sidecar(name: str) -> bool:
    path = Path(name)
    return path.suffix.lower() in SIDECARS and Path(path.stem).suffix != ""


def is_partial(name: str) -> bool:
    return name.startswith((".", "~$")) or name.lower().endswith(_PARTIAL)


def read_sidecar(path: Path, tz: ZoneInfo) -> Target:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise WatchError(f"Không đọc được tệp mô tả {path.name}: {exc}") from exc
    if path.suffix.lower() == ".json":
        return _json_target(text, path.name, tz)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise WatchError(f"Tệp mô tả {path.name} trống: ghi mã đơn vị ở dòng đầu.")
    return Target(lines[0], lines[1] if len(lines) > 1 else None)


def _json_target(text: str, name: str, tz: ZoneInfo) -> Target:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WatchError(f"Tệp mô tả {name} không phải JSON hợp lệ: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("unit"), str):
        raise WatchError(f'Tệp mô tả {name}: cần dạng {{"unit": "Q1-CD012"}}.')
    requirement, received = data.get("requirement"), data.get("received_at")
    if not isinstance(requirement, str | None) or not isinstance(received, str | None):
        raise WatchError(f"Tệp mô tả {name}: requirement và received_at phải là chuỗi.")
    try:
        at = parse_local_datetime(received, tz) if received else None
    except DeadlineError as exc:
        raise WatchError(f"Tệp mô tả {name}: received_at: {exc}") from exc
    return Target(data["unit"], requirement, at)


# --- the sweep ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Directory:
    codes: dict[str, str]  # upper-case code -> code
    duties: dict[str, list[tuple[int, str]]]  # unit code -> (assignment id, requirement code)

    def target_from_name(self, name: str) -> Target:
        code = unit_code_from_name(name, list(self.codes.values()))
        if code is None:
            raise WatchError(
                "Không nhận ra đơn vị: tên tệp phải bắt đầu bằng mã đơn vị "
                "(ví dụ Q1-CD012_bao-cao.pdf), hoặc kèm tệp mô tả <tên tệp>.txt ghi mã đơn vị."
            )
        return Target(code)

    def resolve(self, target: Target) -> tuple[int, str, str]:
        code = self.codes.get(target.unit_code.strip().upper())
        if code is None:
            raise WatchError(f"Không có đơn vị mã {target.unit_code!r}.")
        duties = self.duties.get(code, [])
        wanted = target.requirement_code
        if wanted:
            duties = [d for d in duties if d[1].lower() == wanted.strip().lower()]
        if not duties:
            under = f" theo yêu cầu {wanted!r}" if wanted else ""
            raise WatchError(f"Đơn vị {code} không phải nộp báo cáo{under} trong kế hoạch này.")
        if len(duties) > 1:
            names = ", ".join(d[1] for d in duties)
            raise WatchError(
                f"Đơn vị {code} phải nộp nhiều báo cáo ({names}): ghi mã yêu cầu ở dòng thứ "
                "hai của tệp mô tả .txt."
            )
        return duties[0][0], code, duties[0][1]


def intake_folder(campaign_id: int, config: WatchConfig, *, now: datetime) -> IntakeResult:
    """Record every settled file of the campaign's folder and move it to done/ or rejected/."""
    result = IntakeResult()
    config.folder.mkdir(exist_ok=True)  # shows the office where to drop; the share must exist
    found = pending(config.folder, settled_before=time.time() - config.settle_seconds)
    if not found:
        return result
    with session_scope() as session:
        directory = _directory(session, campaign_id)
    for file, sidecar in found:
        _take(file, sidecar, directory, config, now, result)
    return result


def pending(folder: Path, *, settled_before: float) -> list[tuple[Path, Path | None]]:
    """Files ready to take, each with its sidecar if there is one."""
    files = {p.name: p for p in folder.iterdir() if p.is_file()}
    ready = []
    for name, path in sorted(files.items()):
        if is_sidecar(name) or is_partial(name):
            continue
        sidecar = next((files[name + s] for s in SIDECARS if name + s in files), None)
        if not any(_fresh(p, settled_before) for p in (path, sidecar) if p is not None):
            ready.append((path, sidecar))
    return ready


def _fresh(path: Path, settled_before: float) -> bool:
    try:
        return path.stat().st_mtime > settled_before
    except FileNotFoundError:
        return True  # gone meanwhile: an overlapping sweep took it


def _directory(session: Session, campaign_id: int) -> _Directory:
    codes = {code.upper(): code for code in session.exec(select(Unit.code))}
    duties: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for aid, unit_code, req_code in session.exec(
        select(Assignment.id, Unit.code, Requirement.code)
        .join(Unit, col(Unit.id) == Assignment.unit_id)
        .join(Requirement, col(Requirement.id) == Assignment.requirement_id)
        .where(Requirement.campaign_id == campaign_id)
        .order_by(col(Requirement.position))
    ):
        duties[unit_code].append((aid or 0, req_code))
    return _Directory(codes, duties)


def _take(
    file: Path,
    sidecar: Path | None,
    directory: _Directory,
    config: WatchConfig,
    now: datetime,
    result: IntakeResult,
) -> None:
    try:
        recorded = _record(file, sidecar, directory, config, now)
    except WatchError as exc:
        result.rejected[file.name] = str(exc)
        _reject(file, sidecar, config, str(exc), now)
        return
    except FileNotFoundError:
        return  # an overlapping sweep took it
    with suppress(FileNotFoundError):  # an overlapping sweep moved it first
        file_away(file, sidecar, config.folder / DONE)
    if recorded is None:
        result.duplicates.append(file.name)
    else:
        result.recorded.append(recorded)


def _record(
    file: Path, sidecar: Path | None, directory: _Directory, config: WatchConfig, now: datetime
) -> Recorded | None:
    target = read_sidecar(sidecar, config.tz) if sidecar else directory.target_from_name(file.name)
    assignment_id, unit_code, requirement_code = directory.resolve(target)
    # Not the file's mtime: shared drives stamp it with the copying machine's clock, and a
    # saved attachment may keep the time the unit wrote it, days before sending. `now` is when
    # dondoc saw the report (at most one sweep after the drop); when the email's own time
    # matters (a report saved the morning after the deadline), the office gives it in a sidecar.
    received_at = target.received_at or now
    if received_at > now:
        raise WatchError(f"Thời điểm nhận {_local(received_at, config.tz)} chưa tới.")
    stored = _store(file, config)
    ref = f"watch:{stored.sha256}"
    try:
        version = _record_once(assignment_id, ref, stored, received_at, now)
    except IntegrityError:
        # An overlapping sweep recorded the same file between our check and our insert.
        with session_scope() as session:
            if _recorded_before(session, assignment_id, ref):
                return None
        raise
    if version is None:
        return None
    sid, number = version
    return Recorded(sid, assignment_id, unit_code, requirement_code, number, stored.name)


def _record_once(
    assignment_id: int, ref: str, stored: StoredFile, received_at: datetime, now: datetime
) -> tuple[int, int] | None:
    """(submission id, version), or None when this content was recorded for the unit before."""
    with session_scope() as session:
        assignment = session.get(Assignment, assignment_id)
        if assignment is None:
            raise WatchError("Đơn vị không còn trong kế hoạch này.")
        if _recorded_before(session, assignment_id, ref):
            return None
        sub = record_submission(
            session,
            assignment=assignment,
            received_at=received_at,
            channel=Channel.EMAIL,
            files=[stored],
            recorded_by=RECORDED_BY,
            note=f"Thư mục theo dõi: {stored.name}",
            source_ref=ref,
            now=now,
        )
        return sub.id or 0, sub.version


def _store(file: Path, config: WatchConfig) -> StoredFile:
    try:
        stream = file.open("rb")
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise WatchError(f"Không đọc được tệp: {exc.strerror or exc}.") from exc
    with stream:
        try:
            stored = store(config.storage_root, file.name, stream, max_bytes=config.max_bytes)
        except FileTooLargeError as exc:
            mb = config.max_bytes // (1024 * 1024)
            raise WatchError(f"Tệp lớn hơn giới hạn {mb} MB.") from exc
    if stored.size == 0:
        raise WatchError("Tệp rỗng (0 byte): có thể lưu từ thư điện tử chưa xong.")
    return stored


def _recorded_before(session: Session, assignment_id: int, ref: str) -> bool:
    found = session.exec(
        select(Submission.id).where(
            Submission.assignment_id == assignment_id, Submission.source_ref == ref
        )
    ).first()
    return found is not None


def file_away(file: Path, sidecar: Path | None, dest: Path) -> Path:
    """Move the file (then its sidecar) into dest, never over another file."""
    dest.mkdir(exist_ok=True)
    target = dest / file.name
    n = 1
    while target.exists():
        n += 1
        target = dest / f"{file.stem}-{n}{file.suffix}"
    file.replace(target)
    if sidecar is not None:
        sidecar.replace(dest / (target.name + sidecar.name[len(file.name) :]))
    return target


def _reject(
    file: Path, sidecar: Path | None, config: WatchConfig, reason: str, now: datetime
) -> None:
    try:
        moved = file_away(file, sidecar, config.folder / REJECTED)
    except FileNotFoundError:
        return
    moved.with_name(moved.name + ".why.txt").write_text(
        f"{reason}\n\nTệp: {file.name}\nLúc: {_local(now, config.tz)}\n"
        f"Sửa tên tệp (hoặc thêm tệp mô tả) rồi chép lại vào thư mục {config.folder.name}.\n",
        encoding="utf-8",
    )


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%H:%M %d/%m/%Y}"
