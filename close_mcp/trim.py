"""Fit Close objects into an agent's context: drop empties, project the default view,
shorten long strings to marked excerpts, and keep whole items within a character budget."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

LIST_STRING_MAX = 300
GET_STRING_MAX = 2000


def render(value: Any) -> str:
    """The compact JSON text an agent reads (also what the budget counts)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def escaped_len(text: str) -> int:
    """Characters ``text`` takes as a JSON string value on the wire (without its two quotes): each ``"``
    and ``\\`` is sent escaped; ``render``'s output has no raw control characters to escape."""
    return len(text) + text.count('"') + text.count("\\")


def _is_empty(value: Any) -> bool:
    return value is None or (type(value) in (str, list, dict) and not value)


def compact(value: Any, max_chars: int, keep_full: set[str]) -> tuple[Any, set[str]]:
    """One pass over an object: drop null and empty values (``False`` and ``0`` stay) and replace
    strings longer than ``max_chars`` by an excerpt stating the full length, except in ``keep_full``
    top-level fields. Returns the new value and the top-level fields that were shortened."""
    shortened: set[str] = set()

    def walk(v: Any, top: str | None) -> Any:
        kind = type(v)
        if kind is str:
            if len(v) <= max_chars or top in keep_full:
                return v
            shortened.add(top or "?")
            return v[:max_chars] + f'… [excerpt of {len(v)} chars; full_fields=["{top}"] returns it whole]'
        if kind is dict:
            out = {}
            for k, x in v.items():
                if not _is_empty(x):
                    y = walk(x, k if top is None else top)
                    if not _is_empty(y):
                        out[k] = y
            return out
        if kind is list:
            return [y for y in (walk(x, top) for x in v if not _is_empty(x)) if not _is_empty(y)]
        return v

    return walk(value, None), shortened


def clean(value: Any) -> Any:
    """Drop null and empty values recursively."""
    return compact(value, 1 << 62, set())[0]


def project(item: dict[str, Any], compact: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    """Keep only the listed keys at each dotted path (``contacts.emails`` → ``[email]``)."""
    for dotted, keep in sorted(compact.items(), key=lambda kv: kv[0].count(".")):
        _project_at(item, dotted.split("."), set(keep))
    return item


def _project_at(node: Any, path: list[str], keep: set[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _project_at(child, path, keep)
        return
    if not isinstance(node, dict) or path[0] not in node:
        return
    if len(path) > 1:
        _project_at(node[path[0]], path[1:], keep)
        return
    target = node[path[0]]
    if isinstance(target, list):
        node[path[0]] = [
            {k: v for k, v in t.items() if k in keep} if isinstance(t, dict) else t for t in target
        ]
    elif isinstance(target, dict):
        node[path[0]] = {k: v for k, v in target.items() if k in keep}


def minimal(item: dict[str, Any]) -> dict[str, Any]:
    """Last resort for one object larger than the whole budget: its identity and a pointer."""
    keep: dict[str, Any] = {
        k: item[k] for k in ("id", "name", "display_name", "_type", "lead_id") if k in item
    }
    keep["_trimmed"] = "object too large for the output budget; fetch it with its get tool and `fields`"
    return keep


def fit_object(
    obj: Any,
    budget: int,
    keep_full: set[str],
    max_chars: int = GET_STRING_MAX,
    measure: Callable[[str], int] = escaped_len,
) -> tuple[Any, set[str], str]:
    """Shorten harder until the object's text fits the budget (``measure``: its size on the wire, by
    default as a JSON string); returns the object, the shortened fields and its rendered text (so
    callers need not render it again)."""
    for limit in (max_chars, 500, 200, 80):
        out, shortened = compact(obj, limit, keep_full)
        text = render(out)
        if measure(text) <= budget:
            return out, shortened, text
    cleaned = clean(obj)
    if isinstance(cleaned, dict):
        small = minimal(cleaned)
        return small, set(cleaned), render(small)
    whole, cut = render(cleaned), max(budget - 40, 0)
    while cut and measure(render(whole[:cut])) > budget:
        cut = cut * 3 // 4
    return whole[:cut], {"?"}, render(whole[:cut])
