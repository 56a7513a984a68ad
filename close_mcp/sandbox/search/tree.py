"""The Advanced Filtering query tree: validate every node and compile it to a predicate.

Node types (close-api.md §2.3; developer.close.com/resources/advanced-filtering):
``and``/``or`` (``queries``), ``object_type``, ``id``, ``text``, ``field_condition``,
``has_related``, ``saved_search`` (``{"type": "saved_search", "saved_search_id": "save_…"}``,
as third-party scripts send it). Any node may carry ``negate: true``.

Guesses:
- The query must narrow the object type (Close's Smart View docs: "you must specify that
  you want to get objects of the appropriate type via an object_type clause"); without one
  the search is a 400 rather than a mix of every type.
- A ``field_condition`` on a field of another object type than the one being searched (a
  lead field in a contact search, outside ``has_related``) is a 400 naming the field.
- ``id`` takes ``value`` (one id) or ``values`` (a list): Close's shape is not in our sources.
- ``and: []`` matches everything, ``or: []`` nothing; ``has_related`` without a
  ``related_query`` means "has at least one".
- A saved search's ``s_query`` is the query tree itself or a body holding it under ``query``;
  a legacy Smart View with only a text ``query`` is read with the lead search syntax.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from close_mcp.sandbox.search.adapter import Obj, SearchData
from close_mcp.sandbox.search.conditions import Env, compile_condition
from close_mcp.sandbox.search.errors import field_error
from close_mcp.sandbox.search.fields import KNOWN_OBJECT_TYPES, resolve_field
from close_mcp.sandbox.search.fulltext import compile_text_node
from close_mcp.sandbox.search.lead_query import compile_lead_query
from close_mcp.sandbox.search.related import RELATED_TYPES, related_objects

__all__ = ["SEARCHABLE_TYPES", "Compiler", "Pred", "compile_root"]

Pred = Callable[[str, Obj], bool]

# Docs say leads or contacts; opportunities are a guess from amp-labs/connectors PR #1214
# and third-party scripts that search ``object_type: opportunity`` (close-api.md §2.3 ❓).
SEARCHABLE_TYPES: tuple[str, ...] = ("lead", "contact", "opportunity")
_ALL = KNOWN_OBJECT_TYPES
_NODE_TYPES = "and, or, object_type, id, text, field_condition, has_related, saved_search"


@dataclass(frozen=True)
class Compiler:
    """Compiles one request's tree; ``stack`` holds the saved searches being expanded."""

    data: SearchData
    env: Env
    stack: tuple[str, ...] = ()

    # ----- which object types can a node match? ------------------------------------
    def infer(self, node: Any) -> frozenset[str]:
        if not isinstance(node, dict):
            return _ALL
        kind, negate = node.get("type"), node.get("negate") is True
        raw_children = node.get("queries")
        children: list[Any] = raw_children if isinstance(raw_children, list) else []
        found: frozenset[str] = _ALL
        if kind == "object_type" and node.get("object_type") in _ALL:
            found = frozenset({node["object_type"]})
            return _ALL - found if negate else found
        if negate:
            return _ALL
        if kind == "and":
            for child in children:
                found &= self.infer(child)
        elif kind == "or" and children:
            found = frozenset().union(*(self.infer(child) for child in children))
        elif kind == "saved_search":
            found = self._saved_infer(node.get("saved_search_id"))
        return found

    def _saved_infer(self, saved_id: Any) -> frozenset[str]:
        saved = self.data.saved_search(saved_id) if isinstance(saved_id, str) else None
        if saved is None or saved_id in self.stack:
            return _ALL
        tree = _saved_tree(saved)
        if tree is not None:
            return Compiler(self.data, self.env, (*self.stack, saved_id)).infer(tree)
        return frozenset({"lead"}) if isinstance(saved.get("query"), str) else _ALL

    # ----- compile -----------------------------------------------------------------
    def compile(self, node: Any, context: frozenset[str], path: str) -> Pred:
        if not isinstance(node, dict):
            raise field_error("query", "each query must be an object with a 'type'", path or "query")
        negate = node.get("negate", False)
        if not isinstance(negate, bool):
            raise field_error("query", "negate must be true or false", f"{path}.negate".lstrip("."))
        narrowed = (context & self.infer(node)) or context
        pred = self._node(node, narrowed, path)
        return (lambda t, o: not pred(t, o)) if negate else pred

    def _node(self, node: Obj, context: frozenset[str], path: str) -> Pred:
        kind = node.get("type")
        here = path or "query"
        if kind in ("and", "or"):
            queries = node.get("queries")
            if not isinstance(queries, list):
                raise field_error("query", f"{kind} needs a list 'queries'", here)
            preds = [
                self.compile(q, context, f"{path}.queries[{i}]".lstrip(".")) for i, q in enumerate(queries)
            ]
            if kind == "and":
                return lambda t, o: all(p(t, o) for p in preds)
            return lambda t, o: any(p(t, o) for p in preds)
        if kind == "object_type":
            wanted = node.get("object_type")
            if wanted not in _ALL:
                raise field_error("query", f"unknown object_type {wanted!r}", f"{here}.object_type")
            return lambda t, o: t == wanted
        if kind == "id":
            return _id_node(node, here)
        if kind == "text":
            return compile_text_node(node, self.data, here)
        if kind == "field_condition":
            return self._field_condition(node, context, here)
        if kind == "has_related":
            return self._has_related(node, context, here)
        if kind == "saved_search":
            return self._saved_search(node, context, here)
        raise field_error("query", f"unknown query type {kind!r} (expected {_NODE_TYPES})", f"{here}.type")

    def _field_condition(self, node: Obj, context: frozenset[str], path: str) -> Pred:
        spec = resolve_field(node.get("field"), self.data, "query", f"{path}.field")
        if spec.object_type not in context:
            searched = ", ".join(sorted(context))
            raise field_error(
                "query",
                f"field {spec.name} belongs to {spec.object_type} and cannot filter {searched} here; "
                "use has_related",
                f"{path}.field",
            )
        test = compile_condition(node.get("condition"), spec, self.env, f"{path}.condition")
        owner, get = spec.object_type, spec.get
        return lambda t, o: t == owner and test(get(o))

    def _has_related(self, node: Obj, context: frozenset[str], path: str) -> Pred:
        this, other = node.get("this_object_type"), node.get("related_object_type")
        if this not in RELATED_TYPES or this not in context:
            raise field_error(
                "query", f"this_object_type {this!r} is not searched here", f"{path}.this_object_type"
            )
        if other not in RELATED_TYPES[this]:
            raise field_error(
                "query", f"{this} has no related object type {other!r}", f"{path}.related_object_type"
            )
        sub = node.get("related_query")
        inner: Pred = (
            (lambda t, o: True)
            if sub is None
            else self.compile(sub, frozenset({other}), f"{path}.related_query")
        )
        data = self.data
        return lambda t, o: t == this and any(inner(other, r) for r in related_objects(data, this, o, other))

    def _saved_search(self, node: Obj, context: frozenset[str], path: str) -> Pred:
        saved_id = node.get("saved_search_id")
        saved = self.data.saved_search(saved_id) if isinstance(saved_id, str) else None
        if saved is None or not isinstance(saved_id, str):
            raise field_error("query", f"saved search {saved_id!r} does not exist", f"{path}.saved_search_id")
        if saved_id in self.stack:
            raise field_error("query", f"saved search {saved_id} refers to itself", f"{path}.saved_search_id")
        nested = Compiler(self.data, self.env, (*self.stack, saved_id))
        tree = _saved_tree(saved)
        if tree is not None:
            return nested.compile(tree, context, f"{path}<{saved_id}>")
        text = saved.get("query")
        if isinstance(text, str):
            lead_pred = compile_lead_query(text, self.data, self.env)
            return lambda t, o: t == "lead" and lead_pred(o)
        raise field_error("query", f"saved search {saved_id} has no query", f"{path}.saved_search_id")


def _saved_tree(saved: Obj) -> Obj | None:
    tree = saved.get("s_query")
    if isinstance(tree, dict) and "type" not in tree and isinstance(tree.get("query"), dict):
        tree = tree["query"]
    return tree if isinstance(tree, dict) else None


def _id_node(node: Obj, path: str) -> Pred:
    raw = node.get("values", node.get("value"))
    ids = [raw] if isinstance(raw, str) else raw
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise field_error("query", "id query needs 'value' (an id) or 'values' (a list of ids)", path)
    wanted = set(ids)
    return lambda t, o: o.get("id") in wanted


def compile_root(query: Any, data: SearchData, env: Env) -> tuple[Pred, list[str]]:
    """The request's predicate and the object types it can return, in a fixed order."""
    compiler = Compiler(data, env)
    if not isinstance(query, dict):
        raise field_error("query", "query must be an object with a 'type'")
    inferred = compiler.infer(query)
    if inferred == _ALL:
        compiler.compile(query, frozenset(SEARCHABLE_TYPES), "")  # name a bad node first
        raise field_error(
            "query", "the query must select an object type with an object_type clause (lead or contact)"
        )
    types = [t for t in SEARCHABLE_TYPES if t in inferred]
    if inferred and not types:
        raise field_error(
            "query", f"cannot search {', '.join(sorted(inferred))} objects (searchable: lead, contact)"
        )
    context = frozenset(types) or frozenset(SEARCHABLE_TYPES)
    return compiler.compile(query, context, ""), types
