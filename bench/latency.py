"""Added latency per transport: close-mcp's ``get_lead`` vs the minimal SDK proxy's (``bench/floor_proxy.py``)
vs a direct ``httpx2`` GET of the same lead, alternated call by call (the order rotates each step), over
stdio (raw JSON-RPC over pipes), streamable HTTP (SDK clients, servers on loopback) and in memory (SDK
``Client(server)``, legacy JSON-RPC over memory streams). Each round starts fresh servers.

close-mcp's own share = p50(ours) − p50(proxy); the SDK's = p50(proxy) − p50(direct). Also the wire bytes
of one result: the JSON-RPC line (stdio) or the HTTP response body (the SSE event) as sent."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.config import CONFIG_ENV, config_settings, local_app, p50, pct, result_data, spread
from bench.floor_proxy import floor_server
from bench.remote_load import open_raw_session, start_server, tool_call
from bench.report import Report
from bench.sandbox_process import SandboxProcess
from bench.stdio_rpc import StdioPeer
from close_mcp.uvicorn_runner import bind, wait_until_serving

PY = sys.executable
ADDED_GOAL_MS = 0.2
SERIES = ("ours", "proxy", "direct")
WARM = 10  # steps of each series before the kept ones: connections, first-call caches


def _rotations(calls: int) -> list[tuple[int, ...]]:
    orders = [(0, 1, 2), (1, 2, 0), (2, 0, 1)]
    return [orders[i % 3] for i in range(calls)]


def _check(series: int, answer: Any, lead_id: str) -> None:
    """After the timer stopped: the answer is the lead (a tool result, or the direct GET's response)."""
    if SERIES[series] == "direct":
        answer.raise_for_status()
        return
    data = result_data(answer)
    if not isinstance(data, dict) or data.get("id") != lead_id:
        raise RuntimeError(f"get_lead ({SERIES[series]}) answered something else: {str(data)[:200]}")


# ----- stdio ------------------------------------------------------------------------------------
def stdio_round(
    sb: SandboxProcess, lead_id: str, calls: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    env = sb.env(**CONFIG_ENV)
    ours = StdioPeer([PY, "-m", "close_mcp"], env)
    proxy = StdioPeer([PY, "-m", "bench.floor_proxy", "stdio"], env)
    wire: dict[str, int] = {}
    try:
        for peer in (ours, proxy):
            peer.initialize()
            peer.request("tools/list")
        call = {"name": "get_lead", "arguments": {"lead_id": lead_id}}
        with httpx2.Client(base_url=sb.base_url, auth=(sb.api_key, "")) as http:

            def via(peer: StdioPeer) -> Callable[[], tuple[float, Any]]:
                def step() -> tuple[float, Any]:
                    reply = peer.request("tools/call", call)
                    return peer.last_reply_at, reply["result"]  # stop at the line read, not parsed

                return step

            def run_direct() -> tuple[float, Any]:
                answer = http.get(f"/lead/{lead_id}/")
                return time.perf_counter(), answer

            steps = [via(ours), via(proxy), run_direct]
            times: dict[str, list[float]] = {s: [] for s in SERIES}
            for n, order in enumerate(_rotations(calls + WARM)):  # the first WARM steps are not kept
                for i in order:
                    t = time.perf_counter()
                    done, answer = steps[i]()
                    if n >= WARM:
                        times[SERIES[i]].append(done - t)
                    _check(i, answer, lead_id)
            wire = {"ours": ours.last_reply_bytes, "proxy": proxy.last_reply_bytes}
    finally:
        ours.close()
        proxy.close()
    return times, wire


# ----- async rounds (HTTP, in memory) -----------------------------------------------------------
async def _alternate(
    steps: list[Callable[[], Awaitable[Any]]], lead_id: str, calls: int
) -> dict[str, list[float]]:
    """The SDK clients parse (and check against any output schema) inside ``call_tool``: that part of
    the host's work is in the time here; the result check of this bench is not."""
    times: dict[str, list[float]] = {s: [] for s in SERIES}
    for n, order in enumerate(_rotations(calls + WARM)):
        for i in order:
            t = time.perf_counter()
            answer = await steps[i]()
            if n >= WARM:
                times[SERIES[i]].append(time.perf_counter() - t)
            _check(i, answer, lead_id)
    return times


def _tool_step(client: Client, lead_id: str) -> Callable[[], Awaitable[Any]]:
    async def step() -> Any:
        return await client.call_tool("get_lead", {"lead_id": lead_id})

    return step


async def http_wire_bytes(base: str, lead_id: str) -> int:
    """One raw session: initialize, then one ``tools/call get_lead``: the response body as sent."""
    async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
        headers = await open_raw_session(http)
        call = tool_call(2, "get_lead", {"lead_id": lead_id})
        answer = await http.post("/mcp", json=call, headers=headers)
        answer.raise_for_status()
        return len(answer.content)


def start_floor_http(sb: SandboxProcess) -> tuple[subprocess.Popen[bytes], str]:
    sock = bind()
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen(
        [PY, "-m", "bench.floor_proxy", "http", "--port", str(port)],
        env=sb.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}"


async def http_round(
    sb: SandboxProcess, lead_id: str, calls: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    ours_proc, ours_base = start_server(sb, *[], env_extra=CONFIG_ENV)
    floor_proc, floor_base = start_floor_http(sb)
    try:
        await wait_until_serving(f"{ours_base}/healthz", timeout=30)
        await wait_until_serving(f"{floor_base}/healthz", timeout=30)
        async with AsyncExitStack() as stack:
            clients = []
            for base in (ours_base, floor_base):
                http = await stack.enter_async_context(httpx2.AsyncClient(timeout=30))
                clients.append(
                    await stack.enter_async_context(
                        Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy")
                    )
                )
            direct = await stack.enter_async_context(
                httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, ""))
            )

            async def run_direct() -> Any:
                return await direct.get(f"/lead/{lead_id}/")

            for client in clients:
                await client.list_tools()  # as a host does; the SDK client also caches output schemas

            times = await _alternate(
                [_tool_step(clients[0], lead_id), _tool_step(clients[1], lead_id), run_direct], lead_id, calls
            )
        wire = {
            "ours": await http_wire_bytes(ours_base, lead_id),
            "proxy": await http_wire_bytes(floor_base, lead_id),
        }
    finally:
        for proc in (ours_proc, floor_proc):
            proc.terminate()
            proc.wait(timeout=15)
    return times, wire


async def memory_round(sb: SandboxProcess, lead_id: str, calls: int) -> dict[str, list[float]]:
    async with (
        local_app(sb.base_url, sb.api_key, config_settings()) as app,
        Client(app.server, mode="legacy") as ours,
        Client(floor_server(sb.base_url, sb.api_key), mode="legacy") as proxy,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as direct,
    ):

        async def run_direct() -> Any:
            return await direct.get(f"/lead/{lead_id}/")

        for client in (ours, proxy):
            await client.list_tools()  # as a host does; the SDK client also caches output schemas

        return await _alternate(
            [_tool_step(ours, lead_id), _tool_step(proxy, lead_id), run_direct], lead_id, calls
        )


# ----- all three --------------------------------------------------------------------------------
def bench_added_latency(report: Report, sb: SandboxProcess, calls: int, rounds: int) -> None:
    lead_id = sb.lead_ids(1)[0]
    transports: list[tuple[str, Callable[[], tuple[dict[str, list[float]], dict[str, int]]]]] = [
        ("stdio", lambda: stdio_round(sb, lead_id, calls)),
        ("streamable HTTP", lambda: anyio.run(http_round, sb, lead_id, calls)),
        ("in memory", lambda: (anyio.run(memory_round, sb, lead_id, calls), {})),
    ]
    per_round: dict[str, list[dict[str, float]]] = {name: [] for name, _ in transports}
    wires: dict[str, dict[str, int]] = {}
    for _ in range(rounds):  # rounds interleave the transports too
        for name, run in transports:
            times, wire = run()
            wires[name] = wire or wires.get(name, {})
            ours, proxy, direct = (p50(times[s]) * 1000 for s in SERIES)
            per_round[name].append(
                {
                    "ours_p50_ms": ours,
                    "proxy_p50_ms": proxy,
                    "direct_p50_ms": direct,
                    "ours_p95_ms": pct(times["ours"], 95) * 1000,
                    "proxy_p95_ms": pct(times["proxy"], 95) * 1000,
                    "added_ms": ours - proxy,
                    # drift-proof too: the median of ours − proxy over the same rotation step
                    "paired_ms": p50([a - b for a, b in zip(times["ours"], times["proxy"], strict=True)])
                    * 1000,
                    "sdk_ms": proxy - direct,
                }
            )
    for name, _ in transports:
        section = f"added latency ({name}, get_lead, {calls} calls × {rounds} rounds)"
        got = per_round[name]
        med = {k: spread([r[k] for r in got])["median"] for k in got[0]}
        report.record_several(
            section,
            "p50 close-mcp / proxy / direct GET",
            med,
            ["ours_p50_ms", "proxy_p50_ms", "direct_p50_ms"],
            unit="ms (median of rounds)",
            digits=3,
        )
        report.record_several(
            section, "p95 close-mcp / proxy", med, ["ours_p95_ms", "proxy_p95_ms"], unit="ms", digits=3
        )
        added = spread([r["added_ms"] for r in got])
        sdk = spread([r["sdk_ms"] for r in got])
        paired = spread([r["paired_ms"] for r in got])
        report.record(
            section,
            "close-mcp's own: p50(ours) − p50(proxy)",
            f"min {added['min']:.3f} / median {added['median']:.3f} / spread {added['spread']:.3f}",
            ADDED_GOAL_MS,
            round(added["median"] / ADDED_GOAL_MS, 2),
            "ms",
        )
        report.record(
            section,
            "  the same, as the median of paired differences",
            f"min {paired['min']:.3f} / median {paired['median']:.3f} / spread {paired['spread']:.3f}",
            unit="ms",
        )
        report.record(
            section,
            "the SDK's: p50(proxy) − p50(direct)",
            f"min {sdk['min']:.3f} / median {sdk['median']:.3f} / spread {sdk['spread']:.3f}",
            unit="ms",
        )
        report.record(
            section, "ratio p50 close-mcp / proxy", round(med["ours_p50_ms"] / med["proxy_p50_ms"], 3)
        )
        if wires.get(name):
            w = wires[name]
            report.record(
                section,
                "wire bytes of one result, close-mcp vs proxy",
                w["ours"],
                w["proxy"],
                round(w["ours"] / w["proxy"], 2),
                "B",
            )
        report.detail(section, "rounds", got)
        report.goal(
            f"added latency p50, {name}",
            round(added["median"], 3),
            f"proxy {med['proxy_p50_ms']:.2f} ms",
            round(med["ours_p50_ms"] / med["proxy_p50_ms"], 3),
            f"≤ {ADDED_GOAL_MS} ms (median of rounds)",
            added["median"] <= ADDED_GOAL_MS,
        )
