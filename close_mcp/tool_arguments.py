"""Arguments close-mcp adds to tools by kind, with the same names, bounds and wording
everywhere: paging (``limit``, ``cursor``, ``max_items``), output shaping (``fields``,
``full_fields``). Manifests may not declare these names. Their descriptions are short on
purpose: they are repeated in every tool of ``tools/list``."""

from __future__ import annotations

from typing import Any

DEFAULT_LIMIT = 25
MAX_ITEMS_CAP = 1000
STANDARD_ARGUMENTS = frozenset(
    {"limit", "cursor", "max_items", "fields", "full_fields", "dry_run", "confirm"}
)


def standard_arguments(access: str, pagination: str, max_limit: int) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if pagination != "none":
        args["limit"] = {
            "type": "integer",
            "minimum": 1,
            "maximum": max_limit,
            "description": f"Page size, default {min(DEFAULT_LIMIT, max_limit)}.",
        }
        args["cursor"] = {
            "type": "string",
            "maxLength": 2000,
            "description": "next_cursor of the previous call (same filters).",
        }
        args["max_items"] = {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_ITEMS_CAP,
            "description": "Fetch several pages at once, up to this many items.",
        }
    if access == "read":
        args["fields"] = {
            "type": "array",
            "items": {"type": "string"},
            "description": 'Fields to return; ["_all"] for all. Default: compact view.',
        }
        args["full_fields"] = {
            "type": "array",
            "items": {"type": "string"},
            "description": "Fields to return whole instead of as excerpts.",
        }
    if access != "read":
        args["dry_run"] = {
            "type": "boolean",
            "description": "Return the exact request instead of sending it.",
        }
    if access == "destructive":
        args["confirm"] = {
            "type": "boolean",
            "description": "true = the user confirmed this irreversible call (needed when the client "
            "cannot ask the user itself).",
        }
    return args
