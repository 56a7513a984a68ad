"""The remote load's floor: the same client load (N SDK streamable-HTTP clients calling ``get_lead`` in a
loop for a bounded time) against ``close-mcp serve`` with every tool and against the minimal SDK proxy
(``bench/floor_proxy.py http``) behind the same transport, on the same sandbox (its own process, no rate
limit: a limit would cap both at the same rate), alternated run by run. Calls/s and p50 ratios."""

from __future__ import annotations

import statistics
import time
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.config import CONFIG_ENV, result_data
from bench.latency import start_floor_http
from bench.remote_load import start_server
from bench.report import Report
from bench.sandbox_process import SandboxProcess
from bench.stdio_rpc import cpu_seconds
from close_mcp.uvicorn_runner import wait_until_serving


async def get_lead_load(base: str, lead_id: str, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    failed = 0
    deadline = time.monotonic() + seconds

    async def agent() -> None:
        nonlocal failed
        async with (
            httpx2.AsyncClient(timeout=60) as http,
            Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client,
        ):
            while time.monotonic() < deadline:
                started = time.perf_counter()
                result = await client.call_tool("get_lead", {"lead_id": lead_id})
                latencies.append(time.perf_counter() - started)
                data = None if result.is_error else result_data(result)
                if not isinstance(data, dict) or data.get("id") != lead_id:
                    failed += 1

    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(agent)
    elapsed = time.monotonic() - started
    return {
        "calls": len(latencies),
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "failed": failed,
    }


async def _load_pair(
    sb: SandboxProcess, clients: int, seconds: float, rounds: int
) -> dict[str, list[dict[str, Any]]]:
    lead_id = sb.lead_ids(1)[0]
    ours_proc, ours_base = start_server(sb, env_extra=CONFIG_ENV)
    floor_proc, floor_base = start_floor_http(sb)
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "proxy": []}
    try:
        await wait_until_serving(f"{ours_base}/healthz", timeout=30)
        await wait_until_serving(f"{floor_base}/healthz", timeout=30)
        for base in (ours_base, floor_base):  # warm: first sessions, lazy imports, pooled connections
            await get_lead_load(base, lead_id, clients, min(1.0, seconds))
        for n in range(rounds):  # alternated run by run; who goes first alternates too
            pair = [("ours", ours_base), ("proxy", floor_base)]
            for name, base in pair if n % 2 == 0 else reversed(pair):
                pid = (ours_proc if name == "ours" else floor_proc).pid
                cpu = cpu_seconds(pid)
                run = await get_lead_load(base, lead_id, clients, seconds)
                run["server_cpu_ms_per_call"] = (cpu_seconds(pid) - cpu) * 1000 / max(1, run["calls"])
                runs[name].append(run)
    finally:
        for proc in (ours_proc, floor_proc):
            proc.terminate()
            proc.wait(timeout=15)
    return runs


def bench_load_floor(report: Report, sb: SandboxProcess, clients: int, seconds: float, rounds: int) -> None:
    runs = anyio.run(_load_pair, sb, clients, seconds, rounds)
    section = f"remote load floor (get_lead only, {clients} clients × {seconds:g} s × {rounds} rounds)"
    ours_rate = statistics.median(r["calls_per_s"] for r in runs["ours"])
    floor_rate = statistics.median(r["calls_per_s"] for r in runs["proxy"])
    ours_p50 = statistics.median(r["p50_ms"] for r in runs["ours"])
    floor_p50 = statistics.median(r["p50_ms"] for r in runs["proxy"])
    ours_cpu = statistics.median(r["server_cpu_ms_per_call"] for r in runs["ours"])
    floor_cpu = statistics.median(r["server_cpu_ms_per_call"] for r in runs["proxy"])
    failed = sum(r["failed"] for rs in runs.values() for r in rs)
    report.record(
        section,
        "calls/s close-mcp vs proxy",
        round(ours_rate, 1),
        round(floor_rate, 1),
        round(ours_rate / floor_rate, 3),
        "calls/s",
    )
    report.record(
        section,
        "p50 close-mcp vs proxy",
        round(ours_p50, 2),
        round(floor_p50, 2),
        round(ours_p50 / floor_p50, 3),
        "ms",
    )
    report.record(
        section,
        "server CPU per call close-mcp vs proxy",
        round(ours_cpu, 3),
        round(floor_cpu, 3),
        round(ours_cpu / floor_cpu, 3),
        "ms (/proc of the server process)",
    )
    report.record(section, "failed calls (both)", failed, 0)
    report.detail(section, "runs", runs)
    report.goal(
        "remote load: calls/s vs the proxy",
        round(ours_rate, 1),
        f"proxy {floor_rate:.0f} calls/s",
        round(ours_rate / floor_rate, 3),
        "(no target in issue 16)",
        None,
        "clients and servers share 2 cores: see the server CPU per call",
    )
    report.goal(
        "remote load: server CPU per call vs the proxy",
        round(ours_cpu, 3),
        f"proxy {floor_cpu:.2f} ms",
        round(ours_cpu / floor_cpu, 3),
        "(no target in issue 16)",
        None,
    )
