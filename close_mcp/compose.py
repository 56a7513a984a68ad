"""Composite tools: one agent question answered from several Close reads, declared in the manifest.

Why declared and not coded: each daily answer (a lead in full, my work today, what changed) is a few
GETs and a merge; the manifest's ``compose`` key lists them (``context``: values read once, e.g. who
I am; ``main``: one object; ``parts``: lists kept under their key; ``summary``: one list turned into
readable lines grouped by a field), so this module stays free of Close resources like the executor.

Templates (``{lead}``, ``{me}``, ``{today}``) are filled from the resolved arguments, the context
values and the clock: ``now``, ``hour_ago``, ``day_ago`` (UTC datetimes), ``today``, ``tomorrow``
(UTC dates; Close compares task dates as days).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from close_mcp.client import CloseClient
from close_mcp.errors import CloseError
from close_mcp.names import NameCache, NameSource, fill
from close_mcp.plan import fill_path
from close_mcp.trim import project

PART_LIMIT = 10
MAX_GROUP_LABELS = 25  # objects named one by one in a summary (each is one GET)


def clock(now: datetime | None = None) -> dict[str, str]:
    now = now or datetime.now(UTC)
    return {
        "now": now.isoformat(timespec="seconds"),
        "hour_ago": (now - timedelta(hours=1)).isoformat(timespec="seconds"),
        "day_ago": (now - timedelta(days=1)).isoformat(timespec="seconds"),
        "today": now.date().isoformat(),
        "tomorrow": (now.date() + timedelta(days=1)).isoformat(),
    }


def _pick(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(obj, list) and part.isdigit():
            obj = obj[int(part)] if int(part) < len(obj) else None
        elif isinstance(obj, dict):
            obj = obj.get(part)
        else:
            return None
    return obj


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def _fill(template: str, values: Mapping[str, Any]) -> str:
    return template.format_map(_Values(values))


async def run(
    declared: dict[str, Any],
    args: dict[str, Any],
    client: CloseClient,
    names: NameCache,
) -> dict[str, Any]:
    """Every read the manifest lists, merged into one answer."""
    values: dict[str, Any] = clock()
    context = declared.get("context")
    if context:
        me = (await client.request("GET", context["path"])).data or {}
        values.update({k: _pick(me, v) for k, v in context["values"].items()})
    values.update({k: _fill(str(v), values) for k, v in declared.get("defaults", {}).items()})
    values.update({k: v for k, v in args.items() if v is not None})
    result: dict[str, Any] = {}
    main = declared.get("main")
    if main:
        obj = (await client.request("GET", fill_path(main["path"], values), params=_fields(main))).data or {}
        result.update(_compact(main, obj) if isinstance(obj, dict) else {})
    for key, part in declared.get("parts", {}).items():
        if part.get("one"):
            params = _params(part, values)
            answer = (await client.request("GET", fill_path(part["path"], values), params=params)).data
            answer = _compact(part, answer) if isinstance(answer, dict) else answer
            result[key] = await _named(part.get("labels", {}), answer, client, names)
            continue
        items, more = await _list(part, values, client)
        result[key] = items
        if more:
            result[f"{key}_more"] = True  # more exist than are shown
    summary = declared.get("summary")
    if summary:
        result = await _summarize(summary, result, client, names)
    return result


def _params(part: dict[str, Any], values: Mapping[str, Any]) -> dict[str, str]:
    """A read's query: templates filled; a parameter naming a value not given is left out."""
    params: dict[str, str] = {}
    for key, template in part.get("params", {}).items():
        try:
            params[key] = _fill(str(template), values)
        except KeyError:
            continue
    return {**params, **_fields(part)}


async def _named(labels: dict[str, Any], node: Any, client: CloseClient, names: NameCache) -> Any:
    """IDs under the keys ``labels`` declares replaced by their names (``from_status_id`` → ``from_status``)."""
    if not labels:
        return node
    if isinstance(node, list):
        return [await _named(labels, item, client, names) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in labels and isinstance(value, str):
            name = await names.label(client, NameSource.from_manifest(labels[key]), value)
            out[key.removesuffix("_id")] = name or value
        else:
            out[key] = await _named(labels, value, client, names)
    return out


def _compact(part: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    return project(obj, part["compact"]) if part.get("compact") else obj


def _fields(part: dict[str, Any]) -> dict[str, str]:
    return {"_fields": ",".join(part["fields"])} if part.get("fields") else {}


async def _list(part: dict[str, Any], values: dict[str, Any], client: CloseClient) -> tuple[list[Any], bool]:
    params = _params(part, values)
    params["_limit"] = str(part.get("limit", PART_LIMIT))
    page = (await client.request("GET", fill_path(part["path"], values), params=params)).data or {}
    items = [_compact(part, i) for i in page.get("data") or [] if isinstance(i, dict)]
    return items, bool(page.get("has_more") or page.get("cursor_next"))


async def _summarize(
    summary: dict[str, Any], result: dict[str, Any], client: CloseClient, names: NameCache
) -> dict[str, Any]:
    """One part's items as lines (``line`` template), grouped under the name of ``group_by``'s object."""
    items = result.pop(summary["part"], [])
    more = result.pop(f"{summary['part']}_more", False)
    users = NameSource.from_manifest(summary["user_names"]) if summary.get("user_names") else None
    groups: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for item in items:
        key = str(item.get(summary["group_by"]) or "")
        if key and key not in labels:
            labels[key] = await _group_label(summary, key, client, len(labels))
        user = await names.label(client, users, str(item.get("user_id"))) if users else None
        line = fill(summary["line"], {**item, "user": user or item.get("user_id") or "", **_joined(item)})
        groups.setdefault(labels.get(key, summary.get("ungrouped", "other")), []).append(line)
    result[summary.get("as", "changes")] = groups
    result["count"] = len(items)
    if more:
        result["notice"] = f"Only the latest {len(items)} shown; pass a later since to see the rest."
    return result


def _joined(item: dict[str, Any]) -> dict[str, str]:
    """List fields joined as text for line templates (``{changed_fields}``)."""
    return {k: ", ".join(map(str, v)) for k, v in item.items() if isinstance(v, list)}


async def _group_label(summary: dict[str, Any], key: str, client: CloseClient, seen: int) -> str:
    label = summary.get("group_label")
    if not label or seen >= MAX_GROUP_LABELS:
        return key
    try:
        obj = (await client.request("GET", fill_path(label["path"], {"id": key}), params=_fields(label))).data
    except CloseError:  # e.g. deleted since: the ID is the best name left
        return key
    name = fill(label["label"], obj) if isinstance(obj, dict) else ""
    return f"{name} ({key})" if name else key
