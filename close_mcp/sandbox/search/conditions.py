"""``field_condition`` conditions: validate one against its field, return a value test.

Condition shapes are the ones Close documents and Close's UI copies (close-api.md §2.3;
developer.close.com/resources/advanced-filtering): ``text{value, mode}``, ``term{values}``,
``boolean{value}``, ``exists``, ``current_user``, ``reference{reference_type, object_ids}``,
``number_range{gt, gte, lt, lte}``, ``moment_range{on_or_after, before}``.

Guesses: a multi-valued field matches when any of its values does; a missing value never
matches (so ``negate`` turns "no value" into a match); ``text`` mode defaults to
``full_words``; ``term`` compares strings case-insensitively; a condition that cannot apply
to the field's kind (``number_range`` on a text field) is a 400 naming both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from close_mcp.sandbox.search.dates import parse_instant, resolve_moment
from close_mcp.sandbox.search.errors import field_error
from close_mcp.sandbox.search.fields import FieldSpec
from close_mcp.sandbox.search.textmatch import digits, full_words_match, phrase_match

__all__ = ["Env", "ValueTest", "compile_condition", "is_present"]

ValueTest = Callable[[Any], bool]


@dataclass(frozen=True)
class Env:
    """What conditions need besides the field: the clock, the local zone, the user."""

    now: datetime
    tz: timezone
    user_id: str


_APPLIES: dict[str, frozenset[str]] = {
    "text": frozenset({"text", "keyword", "phone"}),
    "term": frozenset({"text", "keyword", "phone", "id", "user", "number"}),
    "boolean": frozenset({"boolean"}),
    "current_user": frozenset({"user"}),
    "reference": frozenset({"id", "user"}),
    "number_range": frozenset({"number"}),
    "moment_range": frozenset({"date", "datetime"}),
}


def is_present(value: Any) -> bool:
    """Close's ``exists``: a value that is not null, not an empty string, not an empty list."""
    return value is not None and value != "" and value != []


def _each(test: ValueTest) -> ValueTest:
    """Lists (multi-valued fields) match when any element does; a missing value never does."""

    def run(value: Any) -> bool:
        if isinstance(value, list):
            return any(test(v) for v in value if is_present(v))
        return is_present(value) and test(value)

    return run


def _text(cond: dict[str, Any], spec: FieldSpec, path: str) -> ValueTest:
    value, mode = cond.get("value"), cond.get("mode", "full_words")
    if not isinstance(value, str) or not value.strip():
        raise field_error("query", "text condition needs a non-empty string 'value'", path)
    if mode not in ("full_words", "phrase"):
        raise field_error(
            "query", f"unknown text mode {mode!r} (expected full_words, phrase)", f"{path}.mode"
        )
    if spec.kind == "phone" and digits(value):
        wanted = digits(value)
        return lambda v: wanted in digits(str(v))
    match = phrase_match if mode == "phrase" else full_words_match
    return lambda v: match(value, [str(v)])


def _scalar_key(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def _term(cond: dict[str, Any], path: str) -> ValueTest:
    values = cond.get("values")
    if not isinstance(values, list) or not values:
        raise field_error("query", "term condition needs a non-empty list 'values'", path)
    if any(isinstance(v, dict | list) for v in values):
        raise field_error("query", "term values must be strings or numbers", f"{path}.values")
    wanted = {_scalar_key(v) for v in values}
    return lambda v: _scalar_key(v) in wanted


def _boolean(cond: dict[str, Any], path: str) -> ValueTest:
    value = cond.get("value")
    if not isinstance(value, bool):
        raise field_error("query", "boolean condition needs 'value' true or false", path)
    return lambda v: bool(v) is value


def _reference(cond: dict[str, Any], spec: FieldSpec, path: str) -> ValueTest:
    ref_type, ids = cond.get("reference_type"), cond.get("object_ids")
    if ref_type != spec.ref:
        raise field_error(
            "query",
            f"reference_type {ref_type!r} does not fit field {spec.name} (expected {spec.ref!r})",
            f"{path}.reference_type",
        )
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise field_error("query", "reference condition needs a non-empty list of ids 'object_ids'", path)
    wanted = set(ids)
    return lambda v: v in wanted


def _number_range(cond: dict[str, Any], path: str) -> ValueTest:
    bounds: dict[str, float] = {}
    for key in ("gt", "gte", "lt", "lte"):
        raw = cond.get(key)
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise field_error("query", f"{key} must be a number, not {raw!r}", f"{path}.{key}")
        bounds[key] = float(raw)
    if not bounds:
        raise field_error("query", "number_range needs at least one of gt, gte, lt, lte", path)

    def test(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        x = float(v)
        return (
            ("gt" not in bounds or x > bounds["gt"])
            and ("gte" not in bounds or x >= bounds["gte"])
            and ("lt" not in bounds or x < bounds["lt"])
            and ("lte" not in bounds or x <= bounds["lte"])
        )

    return test


def _moment_range(cond: dict[str, Any], env: Env, path: str) -> ValueTest:
    low_node, high_node = cond.get("on_or_after"), cond.get("before")
    if low_node is None and high_node is None:
        raise field_error("query", "moment_range needs 'on_or_after' or 'before'", path)
    low = None if low_node is None else resolve_moment(low_node, env.now, env.tz, f"{path}.on_or_after")
    high = None if high_node is None else resolve_moment(high_node, env.now, env.tz, f"{path}.before")

    def test(v: Any) -> bool:
        moment = parse_instant(v, env.tz)
        if moment is None:
            return False
        return (low is None or moment >= low) and (high is None or moment < high)

    return test


def compile_condition(cond: Any, spec: FieldSpec, env: Env, path: str) -> ValueTest:
    """A test on the raw field value (scalar or list), or a 400 naming what is wrong."""
    if not isinstance(cond, dict):
        raise field_error("query", "condition must be an object with a 'type'", path)
    kind = cond.get("type")
    if kind == "exists":
        return is_present
    if kind not in _APPLIES:
        raise field_error("query", f"unknown condition type {kind!r}", f"{path}.type")
    if spec.kind not in _APPLIES[kind]:
        raise field_error(
            "query", f"condition {kind} does not apply to {spec.kind} field {spec.name}", f"{path}.type"
        )
    test: ValueTest
    if kind == "text":
        test = _text(cond, spec, path)
    elif kind == "term":
        test = _term(cond, path)
    elif kind == "boolean":
        test = _boolean(cond, path)
    elif kind == "current_user":
        user_id = env.user_id
        test = lambda v: v == user_id  # noqa: E731
    elif kind == "reference":
        test = _reference(cond, spec, path)
    elif kind == "number_range":
        test = _number_range(cond, path)
    else:
        test = _moment_range(cond, env, path)
    return _each(test)
