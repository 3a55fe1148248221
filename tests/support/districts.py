"""Two more district federations (quận 3, quận 5) beside the seed's quận 1, each with its own
office and grassroots unions and its own copy of the seed plan implementing the city plan."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml

from tests.support.files import SEED

SECTORS = ["state", "non_state", "fdi", "administrative", "public_service", "non_state"]
HEADER = ["code", "name", "short_name", "kind", "parent", "sector", "ward",
          "office_name", "office_email", "office_consent"]  # fmt: skip


def district_units(dest: Path, district: str, grassroots: int) -> Path:
    """LDLD-<district>-VP and <district>-CD001… under LDLD-<district> (already loaded)."""
    path = dest / f"units-{district.lower()}.csv"
    parent = f"LDLD-{district}"
    office = f"vanthu.{parent.lower()}-vp@example.invalid"
    rows = [[f"{parent}-VP", f"Văn phòng Liên đoàn Lao động {district}", "", "office", parent,
             "", "", "Văn thư", office, "email"]]  # fmt: skip
    for n in range(1, grassroots + 1):
        code = f"{district}-CD{n:03d}"
        rows.append([code, f"CĐCS số {n} {district}", "", "grassroots_union", parent,
                     SECTORS[n % len(SECTORS)], "", "", "", ""])  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def district_plan(files: Path, district: str, number: int, grassroots: int) -> Path:
    """The seed plan (in the copy of the examples at `files`) rewritten for another district:
    its own code, number and issuer, only the CĐCS requirement, its own unit list."""
    plan: dict[str, Any] = yaml.safe_load((files / SEED).read_text(encoding="utf-8"))
    plan = _renamed(plan, "Q1", district)
    plan["units_file"] = district_units(files, district, grassroots).name
    plan["plan"]["code"] = f"{district.lower()}-so-ket-2015"
    plan["plan"]["number"] = f"{number}/KH-LĐLĐ"
    plan["plan"]["place"] = f"Quận {district[1:]}"
    plan["plan"]["distribution"] = [
        d for d in plan["plan"]["distribution"] if d.get("group") != "ban-chuyen-de"
    ]
    plan["requirements"] = [r for r in plan["requirements"] if r["code"] == "cdcs"]
    path = files / f"{district.lower()}-so-ket-2015.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _renamed(value: Any, old: str, new: str) -> Any:
    """Unit codes LDLD-Q1… become LDLD-<new>…; other text is kept."""
    if isinstance(value, dict):
        return {k: _renamed(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, old, new) for v in value]
    if isinstance(value, str) and value.startswith(f"LDLD-{old}"):
        return f"LDLD-{new}" + value[len(f"LDLD-{old}") :]
    return value
