"""close-mcp benchmarks: every figure beside its floor, measured in the same run, and the goals of issues 16 and 17
each with its floor, ratio and verdict.

    python -m bench.run            # full run (~5 minutes on 2 cores)
    python -m bench.run --quick    # tiny counts, every code path once (the smoke test uses this)

One configuration for every figure unless a figure is about another (``bench.config``); the sandbox runs
in its own process (``bench.sandbox_process``). Prints a table and writes bench/results.json. Timings are
medians; ratios are what to compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client

from bench.cold_start import bench_cold_start
from bench.config import CONFIG_ENV, CONFIG_TEXT, SPECS, config_settings, local_app, result_data
from bench.latency import bench_added_latency
from bench.load_floor import bench_load_floor
from bench.memory import bench_memory, bench_memory_http
from bench.paging import bench_paging
from bench.rate_limited import bench_bulk_read, bench_fair_limiter
from bench.remote_load import abandoned_sessions, remote_load, text_of
from bench.report import Report
from bench.sandbox_process import SandboxProcess
from close_mcp.settings import Settings

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Counts:
    cold_runs: int = 10
    latency_calls: int = 300
    latency_rounds: int = 5
    memory_calls: int = 10_000
    memory_every: int = 1_000
    paging_rounds: int = 20
    bulk_limit: int = 10
    bulk_page: int = 5
    fair_calls_each: int = 6
    throughput_calls: int = 300
    floor_clients: int = 20
    floor_seconds: float = 8.0
    floor_rounds: int = 2
    load: tuple[int, float, int] = (50, 30.0, 20)
    abandoned: tuple[int, float] = (500, 5.0)


QUICK = Counts(
    cold_runs=1,
    latency_calls=6,
    latency_rounds=1,
    memory_calls=6,
    memory_every=3,
    paging_rounds=1,
    bulk_limit=50,
    bulk_page=50,
    fair_calls_each=1,
    throughput_calls=10,
    floor_clients=2,
    floor_seconds=0.5,
    floor_rounds=1,
    load=(3, 2.0, 20),
    abandoned=(20, 1.0),
)


def tokens(text: str) -> int:
    """Approximate tokens: ~4 characters each (no offline tokenizer is available here)."""
    return round(len(text) / 4)


def wire_json(model: Any) -> str:
    """A result or tool list as the JSON a host receives (camelCase, no nulls, compact)."""
    return json.dumps(model.model_dump(by_alias=True, exclude_none=True, mode="json"), separators=(",", ":"))


# ----- in memory: paging, bulk read, throughput, context -----------------------------------------
async def in_memory_figures(report: Report, sb: SandboxProcess, counts: Counts) -> None:
    async with local_app(sb.base_url, sb.api_key) as app, Client(app.server, mode="legacy") as client:
        await bench_paging(report, sb, client, counts.paging_rounds)
        await bench_throughput(report, sb, client, counts.throughput_calls)
        await bench_context(report, sb, client)
    await bench_bulk_read(report, sb, counts.bulk_limit, counts.bulk_page)
    await bench_tools_list_cost(report, sb)


async def bench_throughput(report: Report, sb: SandboxProcess, client: Client, calls: int) -> None:
    lead_id = sb.lead_ids(1)[0]
    for concurrency in (1, 10, 50):
        total = max(calls, concurrency * 4) // concurrency * concurrency
        started = time.perf_counter()

        async def worker(n: int) -> None:
            for _ in range(n):
                if (await client.call_tool("get_lead", {"lead_id": lead_id})).is_error:
                    raise RuntimeError("get_lead failed")

        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker, total // concurrency)
        rate = total / (time.perf_counter() - started)
        report.record(
            "throughput (in memory, limits off)", f"{concurrency} concurrent callers", rate, unit="calls/s"
        )


async def bench_context(report: Report, sb: SandboxProcess, client: Client) -> None:
    """tools/list in the one configuration, and default outputs vs the raw Close answer, as sent."""
    listed = await client.list_tools()
    text = wire_json(listed)
    report.record(
        "context cost",
        "tools/list",
        len(text),
        unit=f"chars on the wire (~{tokens(text)} tokens, {len(listed.tools)} tools)",
    )
    per_tool = sorted(((len(wire_json(t)), t.name) for t in listed.tools), reverse=True)
    report.detail("context cost", "largest tools (chars)", [{"tool": n, "chars": c} for c, n in per_tool[:5]])
    report.detail("context cost", "median tool (chars)", statistics.median(c for c, _ in per_tool))
    lead_id = sb.lead_ids(1)[0]
    section = "context cost (raw Close vs tool output)"
    async with httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as http:
        cases = [
            ("list_leads", "/lead/", {}, {"_limit": 25}),
            ("list_activities", "/activity/", {}, {"_limit": 25}),
            ("list_opportunities", "/opportunity/", {}, {"_limit": 25}),
            ("list_tasks", "/task/", {}, {"_limit": 25}),
            ("get_lead", f"/lead/{lead_id}/", {"lead_id": lead_id}, {}),
        ]
        for tool, path, args, params in cases:
            raw = (await http.get(path, params=params)).text
            result = await client.call_tool(tool, args)
            data = result_data(result)
            if isinstance(data, dict) and "items" in data:
                raw_items = json.loads(raw)["data"]
                kept = [i["id"] for i in data["items"]]
                if kept != [i["id"] for i in raw_items[: len(kept)]]:
                    raise RuntimeError(f"{tool} lost or reordered items")
            out, wire = text_of(result), wire_json(result)
            report.record(
                section,
                f"{tool} text",
                len(out),
                len(raw),
                round(len(out) / len(raw), 3),
                f"chars (~{tokens(out)} vs ~{tokens(raw)} tokens)",
            )
            report.record(
                section,
                f"{tool} whole result on the wire",
                len(wire),
                len(raw),
                round(len(wire) / len(raw), 3),
                "chars (the result as sent: its text escaped, and structuredContent if sent)",
            )


async def bench_tools_list_cost(report: Report, sb: SandboxProcess) -> None:
    """Characters of tools/list (the wire form a host reads) per configuration, and per tool."""
    configs: list[tuple[str, Settings]] = [
        ("default", Settings(sandbox=True)),
        ("default, --scope read", Settings(sandbox=True, scope="read")),
        ("all (the bench's configuration)", config_settings()),
        ("all, --scope read", config_settings(scope="read")),
    ]
    configs += [
        (f"toolset {t}", Settings(sandbox=True, toolsets=[t])) for t in sorted({s.toolset for s in SPECS})
    ]
    for name, settings in configs:
        async with (
            local_app(sb.base_url, sb.api_key, settings) as app,
            Client(app.server, mode="legacy") as client,
        ):
            listed = await client.list_tools()
        text = json.dumps(
            [t.model_dump(by_alias=True, exclude_none=True) for t in listed.tools], separators=(",", ":")
        )
        per = round(len(text) / max(1, len(listed.tools)))
        report.record(
            "tools/list cost", name, len(text), unit=f"chars, {len(listed.tools)} tools, {per} per tool"
        )


# ----- remote load (mixed, with the lost/doubled checks) and abandoned sessions -------------------
ABANDONED_GOAL_MB = 10.0  # issue 17: RSS back within 10 MB of the start after the idle timeout


def bench_remote_load(report: Report, counts: Counts) -> None:
    load = anyio.run(remote_load, *counts.load, "pymalloc", CONFIG_ENV)
    report.detail("remote load", "figures", load)
    section = "remote load (streamable HTTP, mixed list_leads / get_lead / create_note)"
    report.record(
        section, f"{load['clients']} clients x {load['seconds']} s", load["calls_per_s"], unit="calls/s"
    )
    report.record(section, "failed calls", load["failed"], 0)
    report.record(
        section,
        "writes lost or doubled",
        load["writes_lost_or_doubled"] + load["writes_unacked_but_made"],
        0,
        unit=f"(of {load['writes_acked']} acknowledged)",
    )
    report.record_several(
        section, "call latency p50 / p95 / p99", load, ["p50_ms", "p95_ms", "p99_ms"], unit="ms"
    )
    report.record(
        section,
        f"429s served (sandbox limit {load['rate_limit']}/s per group)",
        load["served_429"],
        unit=f"in {load['seconds']} s",
    )
    report.record_several(
        section,
        "windows that served a 429 / most 429s in one window of a group",
        load,
        ["windows_with_429", "most_429_in_one_window"],
    )
    report.detail(section, "429s by window", load["by_window"])
    report.record_several(
        section, "server RSS before / after", load, ["rss_before_mb", "rss_after_mb"], unit="MB"
    )
    report.goal(
        f"load run: 429s in one window of a group ({load['clients']} sessions, {load['rate_limit']}/s)",
        load["most_429_in_one_window"],
        f"{load['served_429']} 429s in {load['windows_with_429']} windows",
        None,
        "≤ 1 (issue 17)",
        load["most_429_in_one_window"] <= 1,
    )
    idle = anyio.run(abandoned_sessions, *counts.abandoned)
    report.detail("abandoned sessions", "figures", idle)
    section = f"{idle['sessions']} abandoned sessions (default configuration; bench.remote_load --abandoned)"
    report.record_several(
        section,
        "server RSS before / open / after idle timeout",
        idle,
        ["rss_before_mb", "rss_open_mb", "rss_after_idle_timeout_mb"],
        unit="MB",
    )
    report.record(section, "memory per open session", idle["mb_per_session"], unit="MB")
    left = idle["rss_left_after_expiry_mb"]
    report.goal(
        f"{idle['sessions']} abandoned sessions: RSS left after the idle timeout",
        left,
        f"start {idle['rss_before_mb']} MB",
        None,
        f"≤ {ABANDONED_GOAL_MB:.0f} MB (issue 17)",
        left <= ABANDONED_GOAL_MB,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny counts: every code path once")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    counts = QUICK if args.quick else Counts()
    report = Report()
    started = time.monotonic()
    with SandboxProcess() as sb:
        bench_cold_start(report, sb, counts.cold_runs)
        bench_added_latency(report, sb, counts.latency_calls, counts.latency_rounds)
        bench_memory(report, sb, counts.memory_calls, counts.memory_every)
        bench_memory_http(report, sb, counts.memory_calls, counts.memory_every)
        anyio.run(in_memory_figures, report, sb, counts)
        bench_fair_limiter(report, sb, counts.fair_calls_each)
        bench_load_floor(report, sb, counts.floor_clients, counts.floor_seconds, counts.floor_rounds)
    bench_remote_load(report, counts)
    tools = len([s for s in SPECS])
    header = (
        f"configuration: {CONFIG_TEXT}; {tools} tools in the manifests; the sandbox in its own process "
        f"(bench.sandbox_process); {'--quick' if args.quick else 'full'} run, {time.monotonic() - started:.0f} s"
    )
    report.print(header)
    report.write(args.out, header)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
