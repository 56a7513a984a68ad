"""Fit Close objects into an agent's context: drop empties, project the default view,
shorten long strings to marked excerpts, and keep whole items within a character budget."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic_core import to_json

LIST_STRING_MAX = 300
GET_STRING_MAX = 2000


def render(value: Any) -> str:
    """The compact JSON text an agent reads (also what the budget counts): the same text as
    ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, made by pydantic-core's serializer
    (already loaded by the SDK; 4× faster on a lead, and every result is rendered). What it refuses, such
    as a lone surrogate from a ``\\ud800`` escape in Close's answer, goes through ``json`` as before."""
    try:
        return to_json(value).decode()
    except ValueError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def escaped_len(text: str) -> int:
    """Characters ``text`` takes as a JSON string value on the wire (without its two quotes): each ``"``
    and ``\\`` is sent escaped; ``render``'s output has no raw control characters to escape."""
    return len(text) + text.count('"') + text.count("\\")


def compact(value: Any, max_chars: int, keep_full: set[str]) -> tuple[Any, set[str]]:
    """One pass over an object: drop null and empty values (``False`` and ``0`` stay) and replace
    strings longer than ``max_chars`` by an excerpt stating the full length, except in ``keep_full``
    top-level fields. Returns the new value and the top-level fields that were shortened.

    Hot (every item of every result): strings and scalars are handled inline, only dicts and lists
    recurse, and a shortened value is never empty, so nothing is checked twice."""
    shortened: set[str] = set()

    def excerpt(v: str, top: str | None) -> str:
        if top in keep_full:
            return v
        shortened.add(top or "?")
        return v[:max_chars] + f'… [excerpt of {len(v)} chars; full_fields=["{top}"] returns it whole]'

    def walk_dict(d: dict[str, Any], top: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, x in d.items():
            kind = type(x)
            if kind is str:
                if x:
                    out[k] = x if len(x) <= max_chars else excerpt(x, k if top is None else top)
            elif kind is dict:
                if x and (y := walk_dict(x, k if top is None else top)):
                    out[k] = y
            elif kind is list:
                if x and (z := walk_list(x, k if top is None else top)):
                    out[k] = z
            elif x is not None:
                out[k] = x
        return out

    def walk_list(items: list[Any], top: str | None) -> list[Any]:
        out: list[Any] = []
        for x in items:
            kind = type(x)
            if kind is str:
                if x:
                    out.append(x if len(x) <= max_chars else excerpt(x, top))
            elif kind is dict:
                if x and (y := walk_dict(x, top)):
                    out.append(y)
            elif kind is list:
                if x and (z := walk_list(x, top)):
                    out.append(z)
            elif x is not None:
                out.append(x)
        return out

    kind = type(value)
    if kind is dict:
        return walk_dict(value, None), shortened
    if kind is list:
        return walk_list(value, None), shortened
    if kind is str and len(value) > max_chars:
        return excerpt(value, None), shortened
    return value, shortened


def clean(value: Any) -> Any:
    """Drop null and empty values recursively."""
    return compact(value, 1 << 62, set())[0]


# A manifest's ``compact`` view as a tree: key → (the keys kept in its object(s), or None; the tree below).
_View = dict[str, tuple[frozenset[str] | None, "_View"]]
_VIEWS: dict[int, tuple[Mapping[str, Iterable[str]], _View]] = {}


def _view(compact: Mapping[str, Iterable[str]]) -> _View:
    """``{"contacts": [...], "contacts.emails": ["email"]}`` as a tree, made once per manifest view."""
    made = _VIEWS.get(id(compact))
    if made is None or made[0] is not compact:
        tree: _View = {}
        for dotted, keep in compact.items():
            level = tree
            *above, last = dotted.split(".")
            for key in above:
                level = level.setdefault(key, (None, {}))[1]
            level[last] = (frozenset(keep), level.get(last, (None, {}))[1])
        made = _VIEWS[id(compact)] = (compact, tree)
    return made[1]


def _shape(value: Any, keep: frozenset[str] | None, below: _View) -> Any:
    if type(value) is list:
        return [_shape(v, keep, below) for v in value]
    if type(value) is not dict:
        return value
    out = value if keep is None else {k: v for k, v in value.items() if k in keep}
    for key, (inner, deeper) in below.items():
        if key in out:
            out[key] = _shape(out[key], inner, deeper)
    return out


def project(item: dict[str, Any], compact: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    """Keep only the listed keys at each dotted path (``contacts.emails`` → ``[email]``), in one walk."""
    for key, (keep, below) in _view(compact).items():
        if key in item:
            item[key] = _shape(item[key], keep, below)
    return item


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
