"""Value tests for the text search syntax: words, exact values, numbers, dates.

Date semantics (guess, chosen to read naturally and documented here): a value that names
a day (``2024-01-01``, ``today``, ``yesterday``, ``3 days ago``) is that whole local day, so
``created:2024-01-01`` is that day, ``created > 2024-01-01`` starts after it, ``>=`` from
its start, ``<`` before its start and ``<=`` up to its end. A value with a time
(``2024-01-01T00:00``) compares as that instant; without an offset it is local time
(``x-tz-offset``), since people type local times.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from close_mcp.sandbox.search.conditions import Env, is_present
from close_mcp.sandbox.search.dates import day_bounds, parse_instant, relative_day
from close_mcp.sandbox.search.errors import field_error
from close_mcp.sandbox.search.query_syntax import Term
from close_mcp.sandbox.search.textmatch import phrase_match

__all__ = ["Test", "any_of", "date_test", "exact_test", "number_test", "phrase_test", "require_colon"]

Test = Callable[[Any], bool]


def any_of(test: Test) -> Test:
    """Apply ``test`` to a value or, for lists (multi-valued fields), to any element."""

    def run(value: Any) -> bool:
        if isinstance(value, list):
            return any(is_present(v) and test(v) for v in value)
        return is_present(value) and test(value)

    return run


def require_colon(term: Term, name: str) -> None:
    """Fields that only take ``field:value`` refuse ``>``, ``<``, ``>=``, ``<=``."""
    if term.op != ":":
        raise field_error("query", f"operator {term.op!r} is not supported for {name}; use {name}:value")


def phrase_test(term: Term) -> Test:
    """Whole-word (and, for several words, adjacent) match, case-insensitive."""
    return any_of(lambda v: phrase_match(term.value, [str(v)]))


def exact_test(term: Term) -> Test:
    """Case-insensitive equality."""
    wanted = term.value.casefold()
    return any_of(lambda v: str(v).casefold() == wanted)


def number_test(term: Term, name: str) -> Test:
    try:
        wanted = float(term.value.replace(",", ""))
    except ValueError:
        raise field_error("query", f"{name} needs a number, not {term.value!r}") from None
    ops: dict[str, Callable[[float], bool]] = {
        ":": lambda x: x == wanted,
        ">": lambda x: x > wanted,
        ">=": lambda x: x >= wanted,
        "<": lambda x: x < wanted,
        "<=": lambda x: x <= wanted,
    }
    compare = ops[term.op or ":"]
    return any_of(lambda v: isinstance(v, int | float) and not isinstance(v, bool) and compare(float(v)))


def _when(text: str, env: Env) -> date | datetime | None:
    day = relative_day(text, env.now, env.tz)
    if day is not None:
        return day
    try:
        if len(text.strip()) == 10:
            return date.fromisoformat(text.strip())
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=env.tz)


def date_test(term: Term, env: Env, name: str) -> Test:
    """``field:day``, ``field > day``, …; a 400 naming a value that is not a date."""
    when = _when(term.value, env)
    if when is None:
        raise field_error("query", f"invalid date {term.value!r} for {name} (use YYYY-MM-DD or today)")
    if isinstance(when, datetime):
        low = high = when
        if term.op == ":":
            low, high = day_bounds(when.astimezone(env.tz).date(), env.tz)
    else:
        low, high = day_bounds(when, env.tz)
    op = term.op or ":"

    def test(value: Any) -> bool:
        moment = parse_instant(value, env.tz)
        if moment is None:
            return False
        if op == ":":
            return low <= moment < high
        if op == ">":
            return moment >= high if high != low else moment > high
        if op == ">=":
            return moment >= low
        if op == "<":
            return moment < low
        return moment < high if high != low else moment <= high

    return any_of(test)
