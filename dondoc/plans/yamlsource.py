"""Read a YAML file keeping the line of every key, so errors can say FILE:LINE."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from dondoc.errors import InputError, Problem

Path_ = tuple[str | int, ...]
LineIndex = dict[Path_, int]


def read_text(path: Path) -> str:
    """The file as NFC text; a non-UTF-8 file is refused with the line of the first bad byte."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(
            [Problem(str(path), None, "", f"cannot read file: {exc.strerror}")]
        ) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = Problem(str(path), line, "", "file is not UTF-8 text (save it as UTF-8)")
        raise InputError([problem]) from exc
    return unicodedata.normalize("NFC", text)


def load_yaml(path: Path) -> tuple[Any, LineIndex]:
    """Parse YAML; return the data and the line of every mapping key and list item."""
    text = read_text(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError([Problem(str(path), line, "", f"YAML syntax: {exc.problem}")]) from exc
    index: LineIndex = {}
    duplicates: list[Problem] = []
    if node is not None:
        _walk(node, (), index, duplicates, str(path))
    if duplicates:
        raise InputError(duplicates)
    return data, index


def _walk(node: Node, path: Path_, index: LineIndex, dups: list[Problem], file: str) -> None:
    index.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                field = format_loc((*path, key))
                dups.append(Problem(file, key_node.start_mark.line + 1, field, "duplicate key"))
            seen.add(key)
            index[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), index, dups, file)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), index, dups, file)


def line_of(index: LineIndex, loc: Path_) -> int | None:
    """The line of the longest prefix of `loc` that the file has."""
    for end in range(len(loc), -1, -1):
        line = index.get(tuple(loc[:end]))
        if line is not None:
            return line
    return None


def format_loc(loc: Path_) -> str:
    """('requirements', 1, 'due') -> 'requirements[1].due'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
