"""``sort`` for ``/data/search/``: validate the list, then order the matches.

Facts: ``sort`` is a list of ``{"direction": "asc" | "desc", "field": {…}}``; only numbers,
dates and the searched object's own text fields are sortable (close-api.md §2.3, SCRAPE).
Custom fields sort too (a copied UI query sorts on a date custom field).
Guesses: ``direction`` defaults to ``asc``; objects without a value sort last in both
directions; ties keep the unsorted order (the adapter's), so paging is deterministic;
``choices`` custom fields count as text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timezone
from typing import Any

from close_mcp.sandbox.search.adapter import Obj, SearchData
from close_mcp.sandbox.search.conditions import is_present
from close_mcp.sandbox.search.dates import parse_instant
from close_mcp.sandbox.search.errors import field_error
from close_mcp.sandbox.search.fields import SORTABLE_KINDS, FieldSpec, resolve_field

__all__ = ["SortKey", "apply_sort", "parse_sort"]

SortKey = tuple[FieldSpec, bool]  # (field, descending)
Match = tuple[str, Obj]


def parse_sort(raw: Any, data: SearchData, types: list[str]) -> list[SortKey]:
    """The validated sort keys; a 400 naming the first bad entry."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise field_error("sort", "sort must be a list of {direction, field}")
    keys: list[SortKey] = []
    for i, entry in enumerate(raw):
        path = f"sort[{i}]"
        if not isinstance(entry, dict):
            raise field_error("sort", "each sort entry must be an object {direction, field}", path)
        direction = entry.get("direction", "asc")
        if direction not in ("asc", "desc"):
            raise field_error(
                "sort", f"direction must be 'asc' or 'desc', not {direction!r}", f"{path}.direction"
            )
        spec = resolve_field(entry.get("field"), data, "sort", f"{path}.field")
        if spec.kind not in SORTABLE_KINDS:
            raise field_error("sort", f"field {spec.name} ({spec.kind}) is not sortable", f"{path}.field")
        if spec.object_type not in types:
            raise field_error(
                "sort",
                f"field {spec.name} belongs to {spec.object_type}, which is not searched",
                f"{path}.field",
            )
        keys.append((spec, direction == "desc"))
    return keys


def _value_of(spec: FieldSpec, tz: timezone) -> Callable[[Match], Any]:
    def read(match: Match) -> Any:
        object_type, obj = match
        if object_type != spec.object_type:
            return None
        value = spec.get(obj)
        if isinstance(value, list):
            value = next((v for v in value if is_present(v)), None)
        if not is_present(value):
            return None
        if spec.kind in ("date", "datetime"):
            moment = parse_instant(value, tz)
            return None if moment is None else moment.timestamp()
        if spec.kind == "number":
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        return str(value).casefold()

    return read


def apply_sort(matches: list[Match], keys: list[SortKey], tz: timezone) -> list[Match]:
    """Stable multi-key sort; missing values last whatever the direction."""
    ordered = list(matches)
    for spec, descending in reversed(keys):
        read = _value_of(spec, tz)
        zero: Any = 0.0 if spec.kind in ("number", "date", "datetime") else ""
        present = [m for m in ordered if read(m) is not None]
        missing = [m for m in ordered if read(m) is None]
        present.sort(key=lambda m: read(m) if read(m) is not None else zero, reverse=descending)
        ordered = present + missing
    return ordered
