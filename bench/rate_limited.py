"""Rate-limited figures: a bulk read through ``list_leads`` under the sandbox's limit (share of the limit,
429s per window; the sandbox's counts read over HTTP), and the fair limiter's longest wait against
first-come-first-served's bound (``bench.replicas.fair_limiter``)."""

from __future__ import annotations

import math
import time

import anyio
from mcp import Client

from bench.config import local_app, result_data
from bench.replicas import fair_limiter
from bench.report import Report
from bench.sandbox_process import SandboxProcess

SHARE_GOAL = 0.95


async def bench_bulk_read(report: Report, sb: SandboxProcess, limit: int, page: int) -> None:
    """Every lead, ``page`` at a time (only ids), with the sandbox limited to ``limit`` requests/s per
    key and endpoint group, through a fresh server (nothing learned of the earlier, generous limit, as
    with a real key whose limits do not change under it). Pacing efficiency = the ideal time (the first
    window's burst is free, then one window per ``limit`` requests) ÷ the actual time: the share of the
    limit the server used."""
    section = "rate limit (bulk read, in memory)"
    sb.set_rate_limit(limit)
    try:
        async with local_app(sb.base_url, sb.api_key) as app, Client(app.server, mode="legacy") as client:
            await bulk_read(report, sb, client, limit, page, section)
    finally:
        sb.set_rate_limit(None)


async def bulk_read(
    report: Report, sb: SandboxProcess, client: Client, limit: int, page: int, section: str
) -> None:
    """The walk and its figures (the sandbox's counts over HTTP, before and after)."""
    before = sb.stats()
    cursor, count = None, 0
    t0 = time.perf_counter()
    while True:
        args = {"limit": page, "fields": ["id"], **({"cursor": cursor} if cursor else {})}
        result = await client.call_tool("list_leads", args)
        if result.is_error:
            raise RuntimeError(f"list_leads failed under the limit: {result.content}")
        data = result_data(result)
        count += len(data["items"])
        cursor = data.get("next_cursor")
        if not cursor:
            break
    elapsed = time.perf_counter() - t0
    after = sb.stats()
    requests = after["requests"] - before["requests"]  # control routes are not in the count
    tripped = after["served_429"] - before["served_429"]
    served = requests - tripped
    ideal = (served - 1) // limit * 1.0
    efficiency = ideal / elapsed if ideal else 1.0
    windows = max(1, math.ceil(elapsed))
    report.record(section, "requests", served, unit=f"({count} leads, {page}/page, limit {limit}/s)")
    report.record(
        section,
        "achieved rate vs limit",
        served / elapsed,
        limit,
        round(served / elapsed / limit, 3),
        "req/s",
    )
    report.record(section, "pacing efficiency (ideal time / actual)", round(efficiency, 3), SHARE_GOAL)
    report.record(section, "429s served", tripped, f"<= {windows} (1/window)")
    report.goal(
        f"rate-limited bulk read: share of {limit}/s",
        round(efficiency, 3),
        f"ideal {ideal:.0f} s for {served} requests",
        round(efficiency, 3),
        f"≥ {SHARE_GOAL}",
        efficiency >= SHARE_GOAL,
    )
    report.goal(
        "rate-limited bulk read: 429s per window",
        round(tripped / windows, 3),
        f"{windows} windows",
        round(tripped / windows, 3),
        "≤ 1",
        tripped <= windows,
    )


def bench_fair_limiter(report: Report, sb: SandboxProcess, calls_each: int) -> None:
    fair = anyio.run(fair_limiter, 5, 10, calls_each, sb)
    section = "fair limiter (10 callers at 5/s, one client)"
    report.record(
        section, "longest wait", fair["longest_wait_s"], fair["fcfs_bound_s"], fair["ratio_to_bound"], "s"
    )
    report.record(
        section,
        "median wait / 429s",
        f"{fair['median_wait_s']} s / {fair['429s']}",
        unit=f"({fair['calls']} calls)",
    )
    report.detail(section, "figures", fair)
    report.goal(
        "fair limiter: longest wait",
        fair["longest_wait_s"],
        f"bound {fair['fcfs_bound_s']} s",
        fair["ratio_to_bound"],
        "≤ ahead ÷ rate + 1 window",
        fair["longest_wait_s"] <= fair["fcfs_bound_s"],
    )
