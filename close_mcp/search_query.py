"""Plain search arguments → Close's Advanced Filtering body (``POST /data/search/``), checking every
name on the way, so a search never answers 0 results for a status, field or choice that does not exist.

What each argument means is declared in the tool's manifest under ``"search"`` (schema:
``tool_manifests/manifest.schema.json``): the object type, the fields returned, and per argument a
*term*: ``text`` (free text), ``reference`` (a field holding IDs, given by name through a
``names`` list), ``custom`` (custom fields by name: a value, a list of values, or a range),
``date_range`` (``after``/``before`` dates or ``last_days``), ``has_related`` (true/false: has a
related object matching ``where``), ``sort``. This module knows no Close resource; it builds the
query tree documented in close-api.md §2.3 (node shapes as the sandbox's ``search/`` accepts them).

Guesses, written down: dates are the org's local days (``fixed_local_date``, as Close's UI copies
them); a value for a ``choices`` field must be one of its choices exactly (case-insensitive match is
corrected to Close's spelling); a text custom field matches by words (``full_words``).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from close_mcp import cursors
from close_mcp.client import CloseClient
from close_mcp.names import NameCache, NameSource, UnknownName, unknown
from close_mcp.org_schema import OrgSchema
from close_mcp.trim import LIST_STRING_MAX, compact, render

ITEMS_SHARE = 0.9  # of the output budget, for items
_NOT_FILTERS = frozenset({"search_cursor", "page_size", "fields", "full_fields"})
MAX_PAGE = 200  # Close's largest _limit for /data/search/ (close_mcp/sandbox/search/advanced.py)


class SearchInputError(Exception):
    """An argument that names something that does not exist (message names it and the closest)."""


@dataclass(frozen=True)
class SearchSpec:
    object_type: str
    return_fields: tuple[str, ...]
    terms: dict[str, dict[str, Any]]  # argument name → term declaration
    custom_fields: str | None = None

    @classmethod
    def from_manifest(cls, declared: dict[str, Any], custom_fields: str | None) -> SearchSpec:
        return cls(
            declared["object_type"],
            tuple(declared.get("return_fields", ())),
            dict(declared.get("terms", {})),
            custom_fields,
        )


class QueryBuilder:
    """Builds one search body; names are looked up in the shared caches."""

    def __init__(self, names: NameCache, schema: OrgSchema) -> None:
        self.names, self.schema = names, schema

    async def body(self, spec: SearchSpec, args: dict[str, Any], client: CloseClient) -> dict[str, Any]:
        queries: list[dict[str, Any]] = [{"type": "object_type", "object_type": spec.object_type}]
        sort: list[dict[str, Any]] = []
        problems: list[str] = []
        for name, term in spec.terms.items():
            value = args.get(name)
            if value is None:
                continue
            try:
                if term["kind"] == "sort":
                    sort = self._sort(spec, term, str(value))
                else:
                    queries += await self._term(spec, name, term, value, client)
            except (UnknownName, SearchInputError) as exc:
                problems.append(f"`{name}`: {exc}")
        if problems:
            raise SearchInputError("; ".join(problems))
        close_cursor, skip = read_cursor(args.get("search_cursor"), args)
        body: dict[str, Any] = {
            "query": {"type": "and", "queries": queries},
            "_fields": {spec.object_type: ["id", *(args.get("fields") or spec.return_fields)]},
            "include_counts": True,
            "_limit": min(MAX_PAGE, skip + int(args.get("page_size") or 25)),
        }
        if sort:
            body["sort"] = sort
        if close_cursor:
            body["cursor"] = close_cursor
        return body

    async def _term(
        self, spec: SearchSpec, name: str, term: dict[str, Any], value: Any, client: CloseClient
    ) -> list[dict[str, Any]]:
        kind = term["kind"]
        if kind == "text":
            return [{"type": "text", "value": str(value)}] if str(value).strip() else []
        if kind == "reference":
            source = NameSource.from_manifest(term["names"])
            ids: list[str] = []
            for one in value if isinstance(value, list) else [value]:
                ids += await self.names.resolve(
                    client, source, str(one), what=term.get("what", name), many=True
                )
            condition = {"type": "reference", "reference_type": term["reference_type"], "object_ids": ids}
            return [_condition(_regular(spec.object_type, term["field"]), condition)]
        if kind == "date_range":
            return [_condition(_regular(spec.object_type, term["field"]), _moments(value))]
        if kind == "related_dates":  # e.g. contacted: a call, email or meeting in the range
            either = [
                {
                    "type": "has_related",
                    "this_object_type": spec.object_type,
                    "related_object_type": related,
                    "related_query": _condition(_regular(related, term["field"]), _moments(value)),
                }
                for related in term["related"]
            ]
            any_of: dict[str, Any] = {"type": "or", "queries": either}
            return [{**any_of, "negate": True} if term.get("negate") else any_of]
        if kind == "has_related":
            node: dict[str, Any] = {
                "type": "has_related",
                "this_object_type": spec.object_type,
                "related_object_type": term["related"],
            }
            if term.get("where"):
                node["related_query"] = term["where"]
            return [node if value else {**node, "negate": True}]
        if kind == "custom":
            return await self._custom(spec, value, client)
        raise ValueError(f"unknown search term kind {kind!r}")  # the manifest schema forbids it

    async def definition(self, path: str, given: str, client: CloseClient) -> dict[str, Any]:
        """The custom field named ``given`` (or with that cf_ ID); a miss reads the definitions again."""
        fields = await self.schema.fields(client, path)
        if given.casefold() not in fields.by_name() and given not in fields.by_id:
            fields = await self.schema.fields(client, path, fresh=True)  # perhaps created a moment ago
        matches = (
            [fields.by_id[given]] if given in fields.by_id else fields.by_name().get(given.casefold(), [])
        )
        if not matches:
            names = [str(d.get("name")) for d in fields.by_id.values()]
            raise SearchInputError(unknown("custom field", given, names))
        if len(matches) > 1:
            ids = ", ".join(str(d["id"]) for d in matches)
            raise SearchInputError(f"custom field name {given!r} is ambiguous ({ids}); pass its cf_ ID")
        return matches[0]

    async def _custom(
        self, spec: SearchSpec, value: dict[str, Any], client: CloseClient
    ) -> list[dict[str, Any]]:
        assert spec.custom_fields is not None  # the manifest check requires custom_fields for this term
        out: list[dict[str, Any]] = []
        for given, wanted in value.items():
            definition = await self.definition(spec.custom_fields, given, client)
            target = {"type": "custom_field", "custom_field_id": definition["id"]}
            out.append(_condition(target, _custom_condition(definition, wanted)))
        return out

    def _sort(self, spec: SearchSpec, term: dict[str, Any], value: str) -> list[dict[str, Any]]:
        key = value.removeprefix("-")
        fields: dict[str, str] = term["fields"]
        if key not in fields:
            raise SearchInputError(unknown("sort key", key, list(fields)))
        direction = "desc" if value.startswith("-") else "asc"
        return [{"direction": direction, "field": _regular(spec.object_type, fields[key])}]


# status:"X" / status:X / lead_status:X, custom.Name:V / custom."Two Words":V / "custom.Two Words":V
_QUERY_TERM = re.compile(
    r'(?:(?P<kw>\b(?:lead_)?status)|"custom\.(?P<qname>[^"]+)"|\bcustom\.(?:"(?P<name2>[^"]+)"|(?P<name>[^\s:"<>=]+)))'
    r':\s*(?:"(?P<qvalue>[^"]*)"|(?P<value>[^\s()]+))'
)


async def check_query(
    builder: QueryBuilder, declared: dict[str, Any], argument: str, query: str, client: CloseClient
) -> None:
    """The status and custom-field terms of a Close text query name things that exist (Close answers
    0 results for ``status:"Qualifed"``): raises :class:`SearchInputError` naming the closest."""
    problems: list[str] = []
    for match in _QUERY_TERM.finditer(query):
        value = match["qvalue"] if match["qvalue"] is not None else match["value"]
        try:
            if match["kw"] and declared.get("status"):
                source = NameSource.from_manifest(declared["status"])
                await builder.names.resolve(client, source, value, what="lead status", many=True)
            elif not match["kw"] and declared.get("custom"):
                name = match["qname"] or match["name2"] or match["name"]
                definition = await builder.definition(str(declared["custom"]), name, client)
                if definition.get("type") == "choices":
                    _custom_condition(definition, value)
        except (UnknownName, SearchInputError) as exc:
            problems.append(f"`{argument}`: {exc}")
    if problems:
        raise SearchInputError("; ".join(problems))


def _regular(object_type: str, field_name: str) -> dict[str, Any]:
    return {"type": "regular_field", "object_type": object_type, "field_name": field_name}


def _condition(target: dict[str, Any], condition: dict[str, Any]) -> dict[str, Any]:
    return {"type": "field_condition", "field": target, "condition": condition}


def _moments(value: dict[str, Any]) -> dict[str, Any]:
    """``{"after": day, "before": day}`` (both local days, ``before`` excluded) or ``{"last_days": n}``."""
    condition: dict[str, Any] = {"type": "moment_range"}
    if value.get("last_days") is not None:
        now = {"type": "now"}
        condition["on_or_after"] = {
            "type": "offset",
            "direction": "past",
            "moment": now,
            "offset": {"days": int(value["last_days"])},
            "which_day_end": "start",
        }
    if value.get("after"):
        condition["on_or_after"] = {
            "type": "fixed_local_date",
            "value": value["after"][:10],
            "which": "start",
        }
    if value.get("before"):
        condition["before"] = {"type": "fixed_local_date", "value": value["before"][:10], "which": "start"}
    if len(condition) == 1:
        raise SearchInputError("give after, before or last_days")
    return condition


def _custom_condition(definition: dict[str, Any], wanted: Any) -> dict[str, Any]:
    kind, name = definition.get("type"), str(definition.get("name"))
    if isinstance(wanted, dict):
        if kind == "number":
            bounds = {k: wanted[k] for k in ("gt", "gte", "lt", "lte") if k in wanted}
            if not bounds or len(bounds) != len(wanted):
                raise SearchInputError(f"a range for {name!r} takes gt, gte, lt, lte")
            return {"type": "number_range", **bounds}
        if kind in ("date", "datetime"):
            return _moments(wanted)
        raise SearchInputError(
            f"custom field {name!r} is {kind}: give a value or a list of values, not a range"
        )
    values = wanted if isinstance(wanted, list) else [wanted]
    if kind == "choices":
        choices = [str(c) for c in definition.get("choices") or []]
        folded = {c.casefold(): c for c in choices}
        exact: list[str] = []
        for one in values:
            if str(one).casefold() not in folded:
                raise SearchInputError(unknown(f"choice of custom field {name!r}", str(one), choices))
            exact.append(folded[str(one).casefold()])
        return {"type": "term", "values": exact}
    if kind == "number":
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise SearchInputError(f"custom field {name!r} is a number: give numbers or a range {{gte, lte}}")
        return {"type": "term", "values": values}
    if kind in ("date", "datetime"):
        raise SearchInputError(f"custom field {name!r} is a date: give a range {{after, before}}")
    if len(values) == 1:
        return {"type": "text", "value": str(values[0]), "mode": "full_words"}
    return {"type": "term", "values": [str(v) for v in values]}


def _filters(args: dict[str, Any]) -> str:
    return cursors.filters_hash(args, _NOT_FILTERS)


def read_cursor(token: Any, args: dict[str, Any]) -> tuple[str | None, int]:
    """Our ``search_cursor``: Close's cursor for the page it starts in (None: the first page) and how
    many items of that page were already returned (a page cut to fit the output budget); it belongs to
    the arguments it was returned for."""
    if not token:
        return None, 0
    try:
        raw = json.loads(base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4)))
        close_cursor, skip, filters = (str(raw["c"]) if raw.get("c") else None), int(raw["s"]), raw["f"]
    except (ValueError, TypeError, KeyError, AttributeError):
        raise SearchInputError(
            "`search_cursor`: not a cursor this tool returned; start again without it"
        ) from None
    if filters != _filters(args):
        raise SearchInputError(
            "`search_cursor` belongs to a search with other arguments; pass the same ones, or none"
        )
    return close_cursor, max(0, skip)


def _cursor(close_cursor: str | None, skip: int, args: dict[str, Any]) -> str:
    raw = json.dumps({"c": close_cursor, "s": skip, "f": _filters(args)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def shape(answer: Any, args: dict[str, Any], budget: int) -> dict[str, Any]:
    """Close's search answer as the agent reads it: the items that fit the output budget (without
    ``__object_type``), the total count of all matches, and a cursor to the first item not returned."""
    answer = answer if isinstance(answer, dict) else {}
    close_cursor, skip = read_cursor(args.get("search_cursor"), args)
    data = [item for item in answer.get("data") or [] if isinstance(item, dict)][skip:]
    items: list[dict[str, Any]] = []
    used = 0
    for raw in data:
        item, _ = compact({k: v for k, v in raw.items() if k != "__object_type"}, LIST_STRING_MAX, set())
        size = len(render(item)) + 1
        if items and used + size > budget * ITEMS_SHARE:
            break
        items.append(item)
        used += size
    count = answer.get("count") if isinstance(answer.get("count"), dict) else {}
    result: dict[str, Any] = {"items": items, "count": len(items), "total_results": count.get("total")}
    token = None
    if len(items) < len(data):  # cut to fit: the next call starts inside this same page
        token = _cursor(close_cursor, skip + len(items), args)
    elif answer.get("cursor"):
        token = _cursor(str(answer["cursor"]), 0, args)
    result["has_more"] = token is not None
    if token:
        result["search_cursor"] = token
        result["notice"] = (
            "More matches: call again with the same arguments and this search_cursor (valid ~30 s)."
        )
    return result
