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


async def get_lead_load(base: str, lead_id: str, clients: int, seconds: float, pid: int) -> dict[str, Any]:
    """Every client connects (initialize, tools/list) first; then all call for ``seconds``: the steady
    state, without session set-up or teardown, in time and in the server's CPU (process ``pid``)."""
    latencies: list[float] = []
    failed = connected = done = 0
    go = anyio.Event()
    marks: dict[str, float] = {}

    async def agent() -> None:
        nonlocal failed, connected, done
        async with (
            httpx2.AsyncClient(timeout=60) as http,
            Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client,
        ):
            await client.list_tools()
            connected += 1
            if connected == clients:
                marks.update(start=time.monotonic(), cpu_start=cpu_seconds(pid))
                go.set()
            await go.wait()
            while time.monotonic() < marks["start"] + seconds:
                started = time.perf_counter()
                result = await client.call_tool("get_lead", {"lead_id": lead_id})
                latencies.append(time.perf_counter() - started)
                data = None if result.is_error else result_data(result)
                if not isinstance(data, dict) or data.get("id") != lead_id:
                    failed += 1
            done += 1
            if done == clients:  # the last call's answer is in: the load is over
                marks.update(end=time.monotonic(), cpu_end=cpu_seconds(pid))

    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(agent)
    elapsed = marks["end"] - marks["start"]
    return {
        "calls": len(latencies),
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "server_cpu_ms_per_call": (marks["cpu_end"] - marks["cpu_start"]) * 1000 / max(1, len(latencies)),
        "failed": failed,
    }


async def _load_pair(
    sb: SandboxProcess, clients: int, seconds: float, rounds: int
) -> dict[str, list[dict[str, Any]]]:
    lead_id = sb.lead_ids(1)[0]
    ours_proc, ours_base = start_server(sb, env_extra=CONFIG_ENV)
    floor_proc, floor_base = start_floor_http(sb)
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "proxy": []}
    pid_of = {ours_base: ours_proc.pid, floor_base: floor_proc.pid}
    try:
        await wait_until_serving(f"{ours_base}/healthz", timeout=30)
        await wait_until_serving(f"{floor_base}/healthz", timeout=30)
        for base in (ours_base, floor_base):  # warm: first sessions, lazy imports, pooled connections
            await get_lead_load(base, lead_id, clients, min(1.0, seconds), pid_of[base])
        for n in range(rounds):  # alternated run by run; who goes first alternates too
            pair = [("ours", ours_base), ("proxy", floor_base)]
            for name, base in pair if n % 2 == 0 else reversed(pair):
                runs[name].append(await get_lead_load(base, lead_id, clients, seconds, pid_of[base]))
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
