"""Paging every demo lead: ``list_leads`` in its default view (no arguments, then ``cursor`` = the last
``next_cursor`` until there is none) through an in-memory SDK session, vs direct paging of ``/lead/`` with
the ``_fields`` and ``_limit`` the tool's first upstream request used (read from the sandbox's request log),
alternated walk by walk. Records fetched upstream = Σ min(``_limit``, total − ``_skip``) over the tool's
``/lead/`` requests, from the same log. Also one ``max_items`` walk to the end."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx2
from mcp import Client

from bench.config import result_data
from bench.report import Report
from bench.sandbox_process import SandboxProcess

TIME_GOAL = 1.5
FETCH_GOAL = 1.2


async def tool_walk(client: Client, extra: dict[str, Any] | None = None) -> tuple[int, int]:
    """(calls, items returned) walking ``list_leads`` to the end."""
    cursor, calls, items = None, 0, 0
    while True:
        args = {**(extra or {}), **({"cursor": cursor} if cursor else {})}
        result = await client.call_tool("list_leads", args)
        if result.is_error:
            raise RuntimeError(f"list_leads failed: {result.content}")
        data = result_data(result)
        calls += 1
        items += len(data["items"])
        cursor = data.get("next_cursor")
        if not cursor:
            return calls, items


async def direct_walk(http: httpx2.AsyncClient, fields: str, limit: int) -> int:
    skip, items = 0, 0
    while True:
        answer = await http.get("/lead/", params={"_fields": fields, "_limit": limit, "_skip": skip})
        answer.raise_for_status()
        body = answer.json()
        items += len(body["data"])
        skip += len(body["data"])
        if not body["has_more"]:
            return items


def upstream(log: list[dict[str, Any]], total: int) -> tuple[int, int]:
    """(requests, records fetched) of the ``/lead/`` list requests in a request-log slice."""
    pages = [r for r in log if r["method"] == "GET" and r["path"] == "/lead/"]
    fetched = sum(
        max(0, min(int(r["query"].get("_limit", 100)), total - int(r["query"].get("_skip", 0))))
        for r in pages
    )
    return len(pages), fetched


async def bench_paging(report: Report, sb: SandboxProcess, client: Client, rounds: int) -> None:
    section = "paging every lead (list_leads default view, in memory)"
    since = sb.stats()["requests"]
    calls, total = await tool_walk(client)  # the first walk: what the tool asks Close for
    log = sb.requests_since(since)
    requests, fetched = upstream(log, total)
    first = next(r for r in log if r["path"] == "/lead/")
    fields, limit = first["query"].get("_fields", ""), int(first["query"]["_limit"])
    limits = [int(r["query"]["_limit"]) for r in log if r["path"] == "/lead/"]
    tool_times: list[float] = []
    direct_times: list[float] = []
    async with httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, ""), timeout=30) as http:
        assert await direct_walk(http, fields, limit) == total
        for n in range(rounds):  # alternated walk by walk; who goes first alternates too
            for which in ("tool", "direct") if n % 2 == 0 else ("direct", "tool"):
                t = time.perf_counter()
                if which == "tool":
                    await tool_walk(client)
                else:
                    await direct_walk(http, fields, limit)
                (tool_times if which == "tool" else direct_times).append(time.perf_counter() - t)
    tool_s, direct_s = statistics.median(tool_times), statistics.median(direct_times)
    ratio = tool_s / direct_s
    per_record = fetched / total
    report.record(
        section, f"{total} leads in {calls} calls", tool_s * 1000, direct_s * 1000, round(ratio, 3), "ms"
    )
    report.record(
        section,
        "records fetched upstream per record returned",
        round(per_record, 3),
        1.0,
        round(per_record, 3),
        f"({fetched} fetched in {requests} requests, _limit {limits})",
    )
    report.detail(section, "direct paging", {"_fields": fields, "_limit": limit})
    report.detail(
        section,
        "walk times ms",
        {
            "tool": [round(t * 1000, 1) for t in tool_times],
            "direct": [round(t * 1000, 1) for t in direct_times],
        },
    )
    report.goal(
        f"paging {total} leads: time (median of {rounds})",
        round(tool_s * 1000, 1),
        f"direct paging {direct_s * 1000:.0f} ms",
        round(ratio, 3),
        f"≤ {TIME_GOAL}×",
        ratio <= TIME_GOAL,
    )
    report.goal(
        f"paging {total} leads: records fetched / returned",
        round(per_record, 3),
        f"{total} returned",
        round(per_record, 3),
        f"≤ {FETCH_GOAL}",
        per_record <= FETCH_GOAL,
    )
    since = sb.stats()["requests"]
    calls, items = await tool_walk(client, {"max_items": total})
    requests, fetched = upstream(sb.requests_since(since), total)
    report.record(
        section,
        f"max_items={total} walk to the end",
        f"{calls} calls, {requests} requests",
        unit=f"{fetched} fetched for {items} returned ({fetched / max(1, items):.3f} per record)",
    )
