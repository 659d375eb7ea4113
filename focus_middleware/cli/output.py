"""Readable tables for people, JSON for machines.

Values shown in a table come from the service (a job's description is whatever an app
put there), so control characters are replaced before they reach a terminal: an escape
sequence in metadata must not be able to rewrite the screen. JSON output is left exact,
since ``json.dumps`` escapes them anyway.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

MAX_CELL = 48


def printable(text: str) -> str:
    """``text`` with every control character (escape sequences included) shown as ``?``."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def cell(value: Any, limit: int = MAX_CELL) -> str:
    """One value as table text: ``-`` for nothing, yes/no, timestamps to the second,
    printable characters only, at most ``limit`` characters."""
    if value is None or value == "":
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, datetime):
        offset = value.utcoffset()
        zone = "" if offset is None else "Z" if not offset else value.strftime("%z")
        text = value.strftime("%Y-%m-%d %H:%M:%S") + zone
    else:
        text = str(value)
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO | None = None) -> None:
    """Columns aligned on the widest cell, two spaces apart, headers first."""
    stream = out if out is not None else sys.stdout
    body = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]
    for row in [list(headers), *body]:
        stream.write("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")
    stream.flush()


def pairs(items: Iterable[tuple[str, Any]], out: TextIO | None = None) -> None:
    """A two-column "label  value" block."""
    stream = out if out is not None else sys.stdout
    rows = [(label, cell(value, 200)) for label, value in items]
    width = max((len(label) for label, _ in rows), default=0)
    for label, value in rows:
        stream.write(f"{label.ljust(width)}  {value}\n")
    stream.flush()


def emit_json(data: Any, out: TextIO | None = None) -> None:
    stream = out if out is not None else sys.stdout
    stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    stream.flush()
