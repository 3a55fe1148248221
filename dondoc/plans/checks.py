"""Rules that relate several parts of one plan file (no database needed)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from dondoc.plans.schema import PlanFile
from dondoc.plans.yamlsource import Path_
from dondoc.rules.deadlines import format_date_vi

Finding = tuple[Path_, str]  # (location in the file, message)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def formula_keys(formula: str) -> list[str]:
    return _IDENT.findall(formula)


def check_plan_file(spec: PlanFile) -> list[Finding]:
    return [
        *_duplicates(spec),
        *_indicator_refs(spec),
        *_distribution_refs(spec),
        *_policy_refs(spec),
        *_basis(spec),
        *_deadlines(spec),
    ]


def _dups(values: Sequence[str], where: str, field: str) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for i, value in enumerate(values):
        if value in first:
            yield (where, i, field), f"duplicate {value!r} (also at {where}[{first[value]}])"
        first.setdefault(value, i)


def _duplicates(spec: PlanFile) -> Iterator[Finding]:
    yield from _dups([r.code for r in spec.requirements], "requirements", "code")
    yield from _dups([i.key for i in spec.indicators], "indicators", "key")
    yield from _dups([t.code for t in spec.targets], "targets", "code")
    yield from _dups([u.code for u in spec.units], "units", "code")


def _unknown(keys: Iterable[str], known: set[str]) -> list[str]:
    return [k for k in keys if k not in known]


def _indicator_refs(spec: PlanFile) -> Iterator[Finding]:
    known = {i.key for i in spec.indicators}
    for n, ind in enumerate(spec.indicators):
        if ind.max_of and ind.max_of not in known:
            yield ("indicators", n, "max_of"), f"unknown indicator {ind.max_of!r}"
        if ind.formula and (bad := _unknown(formula_keys(ind.formula), known - {ind.key})):
            yield ("indicators", n, "formula"), f"unknown indicator(s): {', '.join(bad)}"
    for n, req in enumerate(spec.requirements):
        if isinstance(req.indicators, list) and (bad := _unknown(req.indicators, known)):
            yield ("requirements", n, "indicators"), f"unknown indicator(s): {', '.join(bad)}"
    for n, target in enumerate(spec.targets):
        if bad := _unknown(formula_keys(target.indicator), known):
            yield ("targets", n, "indicator"), f"unknown indicator(s): {', '.join(bad)}"


def _policy_refs(spec: PlanFile) -> Iterator[Finding]:
    known = {"default", *spec.reminder_policies}
    for n, req in enumerate(spec.requirements):
        if req.reminder_policy and req.reminder_policy not in known:
            msg = f"no reminder policy {req.reminder_policy!r} (known: {', '.join(sorted(known))})"
            yield ("requirements", n, "reminder_policy"), msg


def _distribution_refs(spec: PlanFile) -> Iterator[Finding]:
    codes = {r.code for r in spec.requirements}
    for n, entry in enumerate(spec.plan.distribution):
        if entry.group and entry.group not in codes:
            yield ("plan", "distribution", n, "group"), f"no requirement {entry.group!r}"


def _basis(spec: PlanFile) -> Iterator[Finding]:
    implements = [n for n, b in enumerate(spec.plan.basis) if b.implements]
    for n in implements[1:]:
        yield ("plan", "basis", n, "implements"), "a plan implements at most one parent plan"


def _deadlines(spec: PlanFile) -> Iterator[Finding]:
    plan = spec.plan
    for n, req in enumerate(spec.requirements):
        due = req.due
        if due.day < plan.issued_on:
            msg = f"deadline {format_date_vi(due.day)} is before the plan's issue date"
            yield ("requirements", n, "due"), msg
        if plan.data_cutoff and due.day <= plan.data_cutoff:
            msg = (
                f"deadline {format_date_vi(due.day)} is not after the data cut-off "
                f"{format_date_vi(plan.data_cutoff)}"
            )
            yield ("requirements", n, "due"), msg
        if req.hard_close and req.hard_close.ends_at() < due.ends_at():
            yield ("requirements", n, "hard_close"), "the hard close is before the deadline"
