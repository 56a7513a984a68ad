"""``POST /data/search/`` (Advanced Filtering): the request envelope around the query tree.

Body (close-api.md §2.3; developer.close.com/resources/advanced-filtering): ``query``
(required), ``_fields`` (object keyed by object type), ``_limit``, ``cursor``,
``results_limit``, ``include_counts``, ``sort``. Answer: ``{"data": [{"__object_type": …,
"id": …}], "cursor": str | null}`` with no ``has_more``; ``include_counts`` adds
``"count": {"limited": n, "total": n}``. At most 10,000 objects per cursor walk.

Guesses, written down:
- ``_limit`` defaults to 100 and may not exceed 200 (Close's max is unpublished; 200 is
  what ``/lead/`` allows, OBS-PHP), in pydantic's wording as Close uses for ``_limit``.
- ``count.total`` counts every match; ``count.limited`` is what a full walk would return
  (capped by ``results_limit`` and by 10,000). Counts come with every page.
- Unknown body keys are ignored: queries copied from Close's UI carry ``"limit": null``.
- Without ``_fields`` an object is only ``__object_type`` and ``id`` (Close's example);
  unknown names in ``_fields`` are dropped as ``_fields`` does elsewhere (close-api.md
  §3.1); ``custom`` selects every ``custom.cf_…`` key.
- Without ``sort`` leads come first, then contacts, then opportunities, each in the
  adapter's order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from close_mcp.sandbox.search.adapter import Obj, SearchData
from close_mcp.sandbox.search.conditions import Env
from close_mcp.sandbox.search.cursor import CursorCodec, fingerprint
from close_mcp.sandbox.search.dates import tz_from_offset
from close_mcp.sandbox.search.errors import SearchError, field_error
from close_mcp.sandbox.search.sorting import apply_sort, parse_sort
from close_mcp.sandbox.search.tree import SEARCHABLE_TYPES, compile_root

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "WALK_CAP", "run_search"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 200
WALK_CAP = 10_000


def _int_field(body: Obj, key: str, *, default: int | None, low: int, high: int | None) -> int | None:
    raw = body.get(key, default)
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise field_error(key, "Input should be a valid integer")
    if raw < low:
        raise field_error(key, f"Input should be greater than or equal to {low}")
    if high is not None and raw > high:
        raise field_error(key, f"Input should be less than or equal to {high}")
    return raw


def _fields_spec(raw: Any) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise field_error(
            "_fields", '_fields must be an object keyed by object type, e.g. {"lead": ["name"]}'
        )
    for object_type, names in raw.items():
        if object_type not in SEARCHABLE_TYPES:
            raise field_error("_fields", f"unknown object type {object_type!r}")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise field_error("_fields", f"_fields.{object_type} must be a list of field names")
    return raw


def _project(object_type: str, obj: Obj, fields: dict[str, list[str]]) -> Obj:
    item: Obj = {"__object_type": object_type, "id": obj.get("id")}
    for name in fields.get(object_type, []):
        if name == "custom":
            item.update({k: v for k, v in obj.items() if k.startswith("custom.")})
        elif name in obj:
            item[name] = obj[name]
    return item


def run_search(
    body: Any,
    data: SearchData,
    *,
    cursor_secret: bytes,
    now: datetime | None = None,
    tz_offset: float = 0.0,
) -> dict[str, Any]:
    """Answer one ``/data/search/`` request body, or raise :class:`SearchError` (400).

    ``now`` is the wall clock for cursor expiry (default ``data.now()``); ``tz_offset`` is the
    ``x-tz-offset`` header, used for local dates in date conditions.
    """
    if not isinstance(body, dict):
        raise SearchError(400, {"errors": ["The request body must be a JSON object."], "field-errors": {}})
    if body.get("query") is None:
        raise field_error("query", "Field required")
    clock = now or data.now()
    tz = tz_from_offset(tz_offset)
    limit = _int_field(body, "_limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT) or DEFAULT_LIMIT
    results_limit = _int_field(body, "results_limit", default=None, low=0, high=None)
    include_counts = body.get("include_counts", False)
    if not isinstance(include_counts, bool):
        raise field_error("include_counts", "Input should be a valid boolean")
    fields = _fields_spec(body.get("_fields"))

    env = Env(now=data.now(), tz=tz, user_id=data.current_user_id())
    pred, types = compile_root(body["query"], data, env)
    keys = parse_sort(body.get("sort"), data, types)
    codec = CursorCodec(cursor_secret)
    bound = fingerprint([body["query"], body.get("sort"), results_limit, tz_offset])
    offset = 0 if body.get("cursor") is None else codec.decode(body["cursor"], clock.timestamp(), bound)

    matches = [(t, o) for t in types for o in data.objects(t) if pred(t, o)]
    matches = apply_sort(matches, keys, tz)
    total = len(matches)
    cap = min(WALK_CAP, total if results_limit is None else results_limit)
    limited = min(total, cap)
    page = matches[offset : min(offset + limit, limited)]
    next_offset = offset + len(page)
    answer: dict[str, Any] = {
        "data": [_project(t, o, fields) for t, o in page],
        "cursor": codec.encode(next_offset, clock.timestamp(), bound) if next_offset < limited else None,
    }
    if include_counts:
        answer["count"] = {"limited": limited, "total": total}
    return answer
