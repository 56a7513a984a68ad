"""Arguments close-mcp adds to tools by kind, with the same names, bounds and meaning everywhere:
paging (``limit``, ``cursor``, ``max_items``), output shaping (``fields``, ``full_fields``), ``dry_run``,
``confirm`` and ``idempotency_key`` (creates, see :mod:`close_mcp.idempotency`). Manifests may not declare these names.

They are explained once, in the server's instructions (:data:`STANDARD_ARGUMENTS_TEXT`), not on every
tool: ``tools/list`` repeats whatever a tool carries, and these would cost ~300 characters per tool.
The validation schema keeps every bound; the advertised one (see :func:`close_mcp.manifest.wire_schema`)
drops what only the validator needs."""

from __future__ import annotations

from typing import Any

DEFAULT_LIMIT = 25
MAX_ITEMS_CAP = 1000
MAX_FIELD_NAME = 200
MAX_FIELDS = 100
STANDARD_ARGUMENTS = frozenset(
    {"limit", "cursor", "max_items", "fields", "full_fields", "dry_run", "confirm", "idempotency_key"}
)
MAX_IDEMPOTENCY_KEY = 200
STANDARD_ARGUMENTS_TEXT = (
    "Shared arguments: list tools take limit (page size, default 25, at most 100 on most tools), cursor (the next_cursor of the "
    "previous call, same filters) and max_items (walk several pages, up to that many items, at most 1000); read tools "
    'take fields (Close field names to return, ["_all"] for all; default: a compact view) and full_fields '
    "(fields to return whole instead of as excerpts); write tools take dry_run (return the exact request "
    "instead of sending it); irreversible tools take confirm (true once the user agreed, when the client "
    "cannot ask them itself); creates (POST writes) take idempotency_key (any unique text: a repeat with "
    "the same key and arguments within 24 h returns the first result instead of writing again). "
    "Search tools (search_*) take date ranges as {after, before} (YYYY-MM-DD, before excluded) or "
    "{last_days: n}, custom as {field name: a value, a list (any of), {gte, lte} or {after, before}}, "
    "page_size (default 25, at most 200) and search_cursor (the previous answer's, valid 30 s)."
)
_FIELD_LIST = {
    "type": "array",
    "items": {"type": "string", "maxLength": MAX_FIELD_NAME},
    "maxItems": MAX_FIELDS,
}


def standard_arguments(access: str, pagination: str, max_limit: int, method: str = "GET") -> dict[str, Any]:
    args: dict[str, Any] = {}
    if pagination != "none":
        args["limit"] = {"type": "integer", "minimum": 1, "maximum": max_limit}
        args["cursor"] = {"type": "string", "maxLength": 2000}
        args["max_items"] = {"type": "integer", "minimum": 1, "maximum": MAX_ITEMS_CAP}
    if access == "read":
        args["fields"] = dict(_FIELD_LIST)
        args["full_fields"] = dict(_FIELD_LIST)
    else:
        args["dry_run"] = {"type": "boolean"}
    if access == "destructive":
        args["confirm"] = {"type": "boolean"}
    if method == "POST" and access != "read":
        args["idempotency_key"] = {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY}
    return args


# Bounds stated in STANDARD_ARGUMENTS_TEXT instead of on every list tool; still validated.
_UNADVERTISED_BOUNDS = {"limit": "maximum", "max_items": "maximum"}


# Accepted and validated but not listed: the instructions explain it, and the notice of a result whose
# text was excerpted names it with the fields to pass (~47 characters saved on every read tool).
_UNLISTED = frozenset({"full_fields"})


def advertised(properties: dict[str, Any]) -> dict[str, Any]:
    """The standard arguments as tools/list shows them: bounds the instructions state are left out,
    and the arguments an agent learns from results (``full_fields``) are not listed."""
    return {
        name: {k: v for k, v in schema.items() if k != _UNADVERTISED_BOUNDS.get(name)}
        for name, schema in properties.items()
        if name not in _UNLISTED
    }
