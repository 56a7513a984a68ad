"""List queries: Close's filter params, ``_order_by``, offset and cursor pagination."""

from __future__ import annotations

import base64
import binascii
import json
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from close_mcp.sandbox.engine.context import select_fields
from close_mcp.sandbox.engine.resource import Resource
from close_mcp.sandbox.ids import parse_when
from close_mcp.sandbox.store import Obj, SandboxError, validation_error

DEFAULT_LIMIT = 100
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


# ----- filters -------------------------------------------------------------------------
def _comparable(value: Any, raw: str) -> tuple[Any, Any] | None:
    """A stored value and a filter value as two comparable things.

    Numbers compare as numbers; strings that both parse as dates/datetimes compare as
    aware datetimes (``Z`` and offsets honoured, naive = UTC, close-api.md §3.3); anything
    else as strings. Fix: until 2026-12 the sandbox compared ISO strings, so
    ``2024-01-01T00:00:00Z`` vs ``…+00:00`` or a ``+02:00`` offset ordered wrongly.
    """
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return value, float(raw)
        except ValueError:
            return None
    if isinstance(value, str):
        left, right = _when(value), _when(raw)
        if left is not None and right is not None:
            return left, right
    return str(value), raw


def _when(text: str) -> datetime | None:
    return parse_when(text) if len(text) >= 10 and text[4:5] == "-" else None


def _coerce(raw: str) -> Any:
    return {"true": True, "false": False}.get(raw.lower(), raw)


def _equals(value: Any, raw: str) -> bool:
    wanted = _coerce(raw)
    if value == wanted or (isinstance(value, str) and isinstance(wanted, str) and value[:10] == wanted):
        return True
    pair = _comparable(value, raw) if not isinstance(wanted, bool) else None
    return pair is not None and not isinstance(pair[0], str) and pair[0] == pair[1]


def filter_items(items: Iterable[Obj], params: Mapping[str, str], res: Resource) -> list[Obj]:
    """``field``, ``field__in`` (comma list), ``field__gt/gte/lt/lte``; fields in
    ``res.comma_filters`` take a comma list in their plain form too."""
    result = list(items)
    for key, raw in params.items():
        name, _, op = key.partition("__")
        if name not in res.filters:
            continue
        if op == "in" or (op == "" and name in res.comma_filters and "," in raw):
            allowed = raw.split(",")
            result = [o for o in result if any(_equals(o.get(name), v) for v in allowed)]
        elif op == "":
            result = [o for o in result if _equals(o.get(name), raw)]
        elif op in _OPS:
            cmp = _OPS[op]
            pairs = [(o, _comparable(o.get(name), raw)) for o in result]
            result = [o for o, pair in pairs if pair is not None and cmp(pair[0], pair[1])]
    return result


# ----- ordering ------------------------------------------------------------------------
def _sort_value(value: Any) -> Any:
    return (_when(value) or value) if isinstance(value, str) else value


def order_items(items: list[Obj], order_by: str | None, res: Resource) -> list[Obj]:
    """``_order_by``: one of ``res.order_by`` (comma = several keys), ``-`` = descending;
    objects without the key come last, ties keep the default order."""
    if not order_by:
        order_by = res.default_order
        if not order_by:
            return items
    elif order_by.lstrip("-") not in res.order_by:
        choices = ", ".join(sorted(res.order_by))
        raise validation_error({"_order_by": f"Not a valid choice. Valid choices: {choices}."})
    else:
        items = order_items(items, None, res)
    keys = order_by.lstrip("-").split(",")
    present = [o for o in items if all(o.get(k) is not None for k in keys)]
    missing = [o for o in items if not all(o.get(k) is not None for k in keys)]
    present.sort(key=lambda o: tuple(_sort_value(o[k]) for k in keys), reverse=order_by.startswith("-"))
    return present + missing


# ----- pagination ----------------------------------------------------------------------
def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(str(raw))
    except ValueError:
        raise SandboxError(400, {"error": f"{name} must be an integer"}) from None


def offset_page(
    items: list[Obj], params: Mapping[str, str], res: Resource, view: Callable[[Obj], Obj]
) -> Obj:
    """``_skip``/``_limit``, ``has_more``, optional ``total_results``. A ``_limit`` above the
    resource maximum is refused with 400, as observed on live ``/lead/`` (close-api.md §2.1)."""
    skip = _int_param(params, "_skip", 0)
    limit = _int_param(params, "_limit", min(DEFAULT_LIMIT, res.max_limit))
    if skip < 0:
        raise SandboxError(400, {"error": "_skip must be a non-negative integer"})
    if limit < 0:
        raise validation_error({"_limit": "Input should be greater than or equal to 0"})
    if limit > res.max_limit:
        raise validation_error({"_limit": f"Input should be less than or equal to {res.max_limit}"})
    if skip > res.max_skip:
        raise SandboxError(
            400,
            {
                "error": "The skip you set is larger than the maximum skip for this resource "
                f"(max_skip = {res.max_skip}). Please refine your search query."
            },
        )
    fields = params.get("_fields")
    body: Obj = {
        "has_more": skip + limit < len(items),
        "data": [select_fields(view(o), fields) for o in items[skip : skip + limit]],
    }
    if res.total_results:
        body["total_results"] = len(items)
    return body


def _encode_cursor(direction: str, object_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([direction, object_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        direction, object_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        assert direction in ("n", "p") and isinstance(object_id, str)
    except (ValueError, AssertionError, TypeError, binascii.Error):
        raise validation_error({"_cursor": "Invalid cursor."}) from None
    return direction, object_id


def cursor_page(
    items: list[Obj], params: Mapping[str, str], res: Resource, view: Callable[[Obj], Obj]
) -> Obj:
    """``_cursor``/``_limit`` (silently capped at the maximum, which is also the default;
    close-api.md §2.2): ``cursor_next`` = older page, ``cursor_previous`` = newer page."""
    limit = min(_int_param(params, "_limit", res.max_limit), res.max_limit)
    start = 0
    if params.get("_cursor"):
        direction, anchor = _decode_cursor(params["_cursor"])
        position = next((i for i, o in enumerate(items) if o["id"] == anchor), None)
        if position is None:
            raise validation_error({"_cursor": "Cursor expired or does not match these filters."})
        start = position + 1 if direction == "n" else max(0, position - limit)
        if direction == "p":
            limit = position - start
    window = items[start : start + max(limit, 0)]
    more = window and start + len(window) < len(items)
    return {
        "data": [select_fields(view(o), params.get("_fields")) for o in window],
        "cursor_next": _encode_cursor("n", window[-1]["id"]) if more else None,
        # Guess: a non-empty page always offers cursor_previous, so a client can poll for newer events.
        "cursor_previous": _encode_cursor("p", window[0]["id"]) if window else None,
    }
