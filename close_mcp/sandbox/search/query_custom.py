"""``custom.<name>`` terms and sort keys in the text search syntax.

Form seen in use: ``custom.Industry:"Air Conditioning"`` (third-party PHP client calling
``/lead/?query=``); ``custom.Industry:SaaS`` (a third-party integration's docs). Guesses:
the name is matched case-insensitively; ``custom.cf_…`` (the field id) works too; a name
with spaces is written ``custom."Lead Source"`` or ``"custom.Lead Source"``; the value is
compared by the field's type (words for text, one of the choices for choices, numbers
and dates with comparisons).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from close_mcp.sandbox.search.adapter import CustomField, Obj, SearchData
from close_mcp.sandbox.search.conditions import Env, is_present
from close_mcp.sandbox.search.dates import parse_instant
from close_mcp.sandbox.search.errors import field_error
from close_mcp.sandbox.search.query_syntax import Term
from close_mcp.sandbox.search.query_values import (
    Test,
    date_test,
    exact_test,
    number_test,
    phrase_test,
    require_colon,
)

__all__ = ["custom_definition", "custom_sort_key", "custom_term", "is_custom"]


def is_custom(name: str) -> bool:
    return name.casefold().startswith("custom.")


def custom_definition(name: str, object_type: str, data: SearchData) -> CustomField:
    """The custom field ``custom.<name or id>`` names, or a 400 naming it."""
    key = name[len("custom.") :]
    found = data.custom_field(key) if key.startswith("cf_") else None
    if found is None or found.object_type != object_type:
        found = data.custom_field_by_name(object_type, key)
    if found is None:
        raise field_error("query", f"unknown custom field {key!r} for {object_type}s")
    return found


def custom_term(term: Term, object_type: str, data: SearchData, env: Env) -> Callable[[Obj], bool]:
    assert term.field is not None
    definition = custom_definition(term.field, object_type, data)
    label = f"custom.{definition.name}"
    test: Test
    if definition.type == "number":
        test = number_test(term, label)
    elif definition.type in ("date", "datetime"):
        test = date_test(term, env, label)
    else:
        require_colon(term, label)
        test = phrase_test(term) if definition.type in ("text", "hidden") else exact_test(term)
    attribute = f"custom.{definition.id}"
    return lambda obj: test(obj.get(attribute))


def custom_sort_key(name: str, object_type: str, data: SearchData, env: Env) -> Callable[[Obj], Any]:
    """A sort key reader for ``sort:custom.<name>``; None sorts last."""
    definition = custom_definition(name, object_type, data)
    attribute = f"custom.{definition.id}"

    def read(obj: Obj) -> Any:
        value = obj.get(attribute)
        if isinstance(value, list):
            value = next((v for v in value if is_present(v)), None)
        if not is_present(value):
            return None
        if definition.type in ("date", "datetime"):
            moment = parse_instant(value, env.tz)
            return None if moment is None else moment.timestamp()
        if definition.type == "number":
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        return str(value).casefold()

    return read
