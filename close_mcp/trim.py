"""Fit Close objects into an agent's context: drop empties, project the default view,
shorten long strings to marked excerpts, and keep whole items within a character budget."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

LIST_STRING_MAX = 300
GET_STRING_MAX = 2000
_EMPTY = (None, "", [], {})


def render(value: Any) -> str:
    """The compact JSON text an agent reads (also what the budget counts)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def clean(value: Any) -> Any:
    """Drop null and empty values recursively (``False`` and ``0`` are information and stay)."""
    if isinstance(value, dict):
        out = {k: clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not (v is None or v == "" or v == [] or v == {})}
    if isinstance(value, list):
        return [clean(v) for v in value if v not in _EMPTY]
    return value


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


def shorten(
    value: Any, max_chars: int, keep_full: set[str], top_key: str | None = None
) -> tuple[Any, set[str]]:
    """Replace strings longer than ``max_chars`` by an excerpt stating the full length.

    Returns the new value and the top-level field names that were shortened.
    """
    if isinstance(value, str):
        if len(value) <= max_chars or (top_key in keep_full):
            return value, set()
        marker = f'… [excerpt of {len(value)} chars; full_fields=["{top_key}"] returns it whole]'
        return value[:max_chars] + marker, {top_key or "?"}
    shortened: set[str] = set()
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out[k], s = shorten(v, max_chars, keep_full, top_key if top_key is not None else k)
            shortened |= s
        return out, shortened
    if isinstance(value, list):
        items = []
        for v in value:
            new, s = shorten(v, max_chars, keep_full, top_key)
            items.append(new)
            shortened |= s
        return items, shortened
    return value, shortened


def minimal(item: dict[str, Any]) -> dict[str, Any]:
    """Last resort for one object larger than the whole budget: its identity and a pointer."""
    keep = {k: item[k] for k in ("id", "name", "display_name", "_type", "lead_id") if k in item}
    keep["_trimmed"] = "object too large for the output budget; fetch it with its get tool and `fields`"
    return keep


def fit_object(
    obj: Any, budget: int, keep_full: set[str], max_chars: int = GET_STRING_MAX
) -> tuple[Any, set[str], str]:
    """Shorten harder until the object's text fits the budget; returns the object, the shortened
    fields and its rendered text (so callers need not render it again)."""
    cleaned = clean(obj)
    for limit in (max_chars, 500, 200, 80):
        out, shortened = shorten(cleaned, limit, keep_full)
        text = render(out)
        if len(text) <= budget:
            return out, shortened, text
    if isinstance(cleaned, dict):
        small = minimal(cleaned)
        return small, set(cleaned), render(small)
    text = render(cleaned)[: max(budget - 40, 0)]
    return text, {"?"}, render(text)
