"""A tool result as a person reads it on a terminal: a table for a list, an indented outline for an
object. (``--output json`` prints the structured result itself, for machines.)"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_CELL = 40
MAX_COLUMNS = 6
_PAGING_KEYS = ("count", "total_results", "has_more", "next_cursor", "notice")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_ID = re.compile(r"^[a-z]+_[A-Za-z0-9]+$")  # Close IDs are copied whole, never cut
_FIRST = ("id", "display_name", "name", "label", "text", "title", "status_label", "email")


def _cell(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        text = f"[{len(value)}]"
    else:
        text = _scalar(value).replace("\n", " ")
    if len(text) <= MAX_CELL or _ID.match(text):
        return text
    return text[: MAX_CELL - 1] + "…"


def _column_order(key: str) -> tuple[int, int]:
    if key in _FIRST:
        return (0, _FIRST.index(key))
    return (2, 0) if key.startswith("date_") else (1, 0)


def table(items: list[dict[str, Any]]) -> str:
    """Rows of the items, the first few keys as columns (``id`` first), cells cut to fit."""
    columns: list[str] = []
    for item in items:
        for key in item:
            if key not in columns:
                columns.append(key)
    columns.sort(key=_column_order)  # stable: names first, dates last, else the order the items give
    columns = columns[:MAX_COLUMNS]
    rows = [[c.upper() for c in columns]] + [[_cell(item.get(c)) for c in columns] for item in items]
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def outline(value: Any, indent: int = 0) -> str:
    """``key: value`` lines, nested objects indented, lists of objects as ``-`` entries."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, val in value.items():
            if isinstance(val, dict) and val:
                lines += [f"{pad}{key}:", outline(val, indent + 1)]
            elif isinstance(val, list) and val and any(isinstance(v, dict | list) for v in val):
                lines.append(f"{pad}{key}:")
                for entry in val:
                    body = outline(entry, indent + 2).lstrip()
                    lines.append(f"{pad}  - {body}")
            elif isinstance(val, list):
                lines.append(f"{pad}{key}: {', '.join(_scalar(v) for v in val)}")
            else:
                text = _scalar(val)
                if "\n" in text:
                    lines.append(f"{pad}{key}: |")
                    lines += [f"{pad}  {line}" for line in text.splitlines()]
                else:
                    lines.append(f"{pad}{key}: {text}")
        return "\n".join(lines)
    return pad + _scalar(value)


def readable(structured: dict[str, Any] | None, text: str) -> str:
    """The result of one call (``text`` when a tool returned no structured content)."""
    if structured is None:
        return text
    items = structured.get("items")
    if isinstance(items, list) and all(isinstance(i, dict) for i in items):
        rest = {k: v for k, v in structured.items() if k != "items" and v not in (None, "")}
        shown = [table(items)] if items else ["(nothing matched)"]
        summary = ", ".join(f"{k}: {_scalar(rest.pop(k))}" for k in _PAGING_KEYS[:3] if k in rest)
        if summary:
            shown.append(summary)
        if rest:
            shown.append(outline(rest))
        return "\n".join(shown)
    return outline(structured)
