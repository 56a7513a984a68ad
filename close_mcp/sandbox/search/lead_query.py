"""Entry points for Close's text search syntax on leads and opportunities.

``search_leads(query, data)`` answers ``GET /lead/?query=`` (deprecated 2022-02-14 in favour
of Advanced Filtering, still honoured live: close-api.md §3.2); ``search_opportunities``
answers ``GET /opportunity/?query=``. Both return the matching objects, filtered and in
``sort:`` order; without ``sort:`` they keep the adapter's order (guess: the caller's
default order is the one Close lists in). Several ``sort:`` terms sort by the first, then
the next; objects without a value sort last.

Relative dates use ``data.now()`` and ``tz_offset`` (the ``x-tz-offset`` header Close
documents for ``last_emailed:today``-style queries on the Leads page).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from close_mcp.sandbox.search.adapter import Obj, SearchData
from close_mcp.sandbox.search.conditions import Env
from close_mcp.sandbox.search.dates import tz_from_offset
from close_mcp.sandbox.search.lead_terms import lead_sort_key, lead_term
from close_mcp.sandbox.search.opportunity_terms import opportunity_sort_key, opportunity_term
from close_mcp.sandbox.search.query_syntax import And, Node, Not, Or, Parsed, Term, parse_query

__all__ = ["compile_lead_query", "parse_query", "search_leads", "search_opportunities"]

Test = Callable[[Obj], bool]
TermCompiler = Callable[[Term, SearchData, Env], Test]
SortReader = Callable[[str, SearchData, Env], Callable[[Obj], Any]]


def _compile(node: Node | None, terms: TermCompiler, data: SearchData, env: Env) -> Test:
    if node is None:
        return lambda obj: True
    if isinstance(node, Term):
        return terms(node, data, env)
    if isinstance(node, Not):
        inner = _compile(node.item, terms, data, env)
        return lambda obj: not inner(obj)
    parts = [_compile(item, terms, data, env) for item in node.items]
    if isinstance(node, And):
        return lambda obj: all(p(obj) for p in parts)
    assert isinstance(node, Or)
    return lambda obj: any(p(obj) for p in parts)


def _order(objs: list[Obj], parsed: Parsed, reader: SortReader, data: SearchData, env: Env) -> list[Obj]:
    ordered = list(objs)
    for name, descending in reversed(parsed.sort):
        read = reader(name, data, env)
        present = [o for o in ordered if read(o) is not None]
        missing = [o for o in ordered if read(o) is None]
        present.sort(key=read, reverse=descending)
        ordered = present + missing
    return ordered


def _env(data: SearchData, tz_offset: float) -> Env:
    return Env(now=data.now(), tz=tz_from_offset(tz_offset), user_id=data.current_user_id())


def compile_lead_query(query: str, data: SearchData, env: Env) -> Test:
    """A lead query's filter as a test on lead dicts (its ``sort:`` terms are ignored)."""
    return _compile(parse_query(query).root, lead_term, data, env)


def _search(
    query: str, object_type: str, terms: TermCompiler, reader: SortReader, data: SearchData, tz_offset: float
) -> list[Obj]:
    env = _env(data, tz_offset)
    parsed = parse_query(query)
    test = _compile(parsed.root, terms, data, env)
    for name, _ in parsed.sort:  # validate sort keys even when nothing matches
        reader(name, data, env)
    return _order([o for o in data.objects(object_type) if test(o)], parsed, reader, data, env)


def search_leads(query: str, data: SearchData, *, tz_offset: float = 0.0) -> list[Obj]:
    """Leads matching a Close search string, in its ``sort:`` order; 400 on anything unknown."""
    return _search(query, "lead", lead_term, lead_sort_key, data, tz_offset)


def search_opportunities(query: str, data: SearchData, *, tz_offset: float = 0.0) -> list[Obj]:
    """Opportunities matching an opportunity search string, in its ``sort:`` order."""
    return _search(query, "opportunity", opportunity_term, opportunity_sort_key, data, tz_offset)
