"""Arguments close-mcp adds to tools by kind, with the same names, bounds and wording
everywhere: paging (``limit``, ``cursor``, ``max_items``), output shaping (``fields``,
``full_fields``). Manifests may not declare these names."""

from __future__ import annotations

from typing import Any

DEFAULT_LIMIT = 25
MAX_ITEMS_CAP = 1000
STANDARD_ARGUMENTS = frozenset({"limit", "cursor", "max_items", "fields", "full_fields"})

_FIELDS = {
    "type": "array",
    "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.]*$"},
    "uniqueItems": True,
    "description": 'Fields to return (Close\'s _fields), e.g. ["id", "name"]; ["_all"] returns every field. '
    "Default: a compact view.",
}
_FULL_FIELDS = {
    "type": "array",
    "items": {"type": "string"},
    "uniqueItems": True,
    "description": "Fields whose long text (email bodies, notes) is returned whole instead of as an excerpt.",
}


def standard_arguments(access: str, pagination: str, max_limit: int) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if pagination != "none":
        args["limit"] = {
            "type": "integer",
            "minimum": 1,
            "maximum": max_limit,
            "default": min(DEFAULT_LIMIT, max_limit),
            "description": f"Items per page (1-{max_limit}). Fewer may come back to fit the output budget; "
            "next_cursor then continues exactly where this page stopped.",
        }
        args["cursor"] = {
            "type": "string",
            "maxLength": 2000,
            "description": "next_cursor from the previous call of this tool, with the same filters.",
        }
        args["max_items"] = {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_ITEMS_CAP,
            "description": "Walk pages server-side and return up to this many items in one call "
            "(still within the output budget).",
        }
    if access == "read":
        args["fields"] = dict(_FIELDS)
        args["full_fields"] = dict(_FULL_FIELDS)
    return args
