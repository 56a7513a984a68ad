"""Memory with every tool loaded (issue 16: "RSS flat over 10,000 calls and <= 80 MB").

* :func:`bench_memory`: the stdio server, RSS after ``tools/list``, then sampled every ``every`` calls over
  ``calls`` calls cycling ``get_lead`` / ``list_leads`` (limit 5) / ``list_users``. Flat = the last sample
  ÷ the first (both after calls, so what the first calls build lazily is in both).
* :func:`http_memory`: the same mix plus a ``create_note`` through one streamable-HTTP session on
  ``close-mcp serve`` (``allocator``: the server's own choice, or ``PYTHONMALLOC`` set).
* :func:`stage_rss_mb`: where the idle figure goes, each stage in a fresh interpreter: the bare
  interpreter, the modules a server imports, then the manifests loaded.

``python -m bench.memory [calls] [every] [--allocator default|pymalloc|malloc]`` prints the HTTP and stage
figures as JSON (``python -m bench.run`` prints the stdio ones in its table).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.config import CONFIG_ENV, result_data
from bench.remote_load import rss_mb, start_server
from bench.report import Report
from bench.sandbox_process import SandboxProcess
from bench.stdio_rpc import StdioPeer
from close_mcp.uvicorn_runner import wait_until_serving

RSS_GOAL_MB = 80.0
FLAT_GOAL = 1.05
STAGES = {
    "interpreter": "",
    "imports": "import close_mcp.cli, close_mcp.app, close_mcp.http_app, mcp.server.stdio",
    "manifests": (
        "import close_mcp.cli, close_mcp.app, close_mcp.http_app, mcp.server.stdio\n"
        "from close_mcp.settings import Settings\n"
        "specs = close_mcp.app.load_specs(Settings.load(environ={'CLOSE_MCP_TOOLSETS': 'all'}))"
    ),
}
_PRINT_RSS = (
    "\nfrom pathlib import Path\n"
    "print(next(l.split()[1] for l in Path('/proc/self/status').read_text().splitlines() "
    "if l.startswith('VmRSS:')))"
)


def bench_memory(report: Report, sb: SandboxProcess, calls: int, every: int) -> None:
    section = f"memory (stdio server, {calls} calls)"
    lead_id = sb.lead_ids(1)[0]
    mix = [
        {"name": "get_lead", "arguments": {"lead_id": lead_id}},
        {"name": "list_leads", "arguments": {"limit": 5}},
        {"name": "list_users", "arguments": {}},
    ]
    peer = StdioPeer([sys.executable, "-m", "close_mcp"], sb.env(**CONFIG_ENV))
    try:
        peer.initialize()
        peer.request("tools/list")
        idle, _ = peer.rss_kb()
        idle, _ = peer.rss_kb()
        samples: list[float] = []
        for n in range(calls):
            call = mix[n % len(mix)]
            reply = peer.request("tools/call", call)
            if reply["result"].get("isError"):
                raise RuntimeError(f"{call['name']} failed: {result_data(reply['result'])}")
            if (n + 1) % every == 0:
                samples.append(peer.rss_kb()[0] / 1024)
        _, peak = peer.rss_kb()
    finally:
        peer.close()
    flat = samples[-1] / samples[0]
    report.record(
        section, "RSS after tools/list", idle / 1024, RSS_GOAL_MB, round(idle / 1024 / RSS_GOAL_MB, 3), "MB"
    )
    report.record(section, f"RSS every {every} calls", " / ".join(f"{s:.1f}" for s in samples), unit="MB")
    report.record(section, "flat: last ÷ first sample", round(flat, 3), FLAT_GOAL)
    report.record(
        section, "peak RSS (VmHWM)", peak / 1024, RSS_GOAL_MB, round(peak / 1024 / RSS_GOAL_MB, 3), "MB"
    )
    report.goal(
        f"memory flat over {calls} calls",
        round(flat, 3),
        f"first sample {samples[0]:.1f} MB",
        round(flat, 3),
        f"≤ {FLAT_GOAL} (last ÷ first)",
        flat <= FLAT_GOAL,
    )
    report.goal(
        "memory ≤ 80 MB with every tool (peak)",
        round(peak / 1024, 1),
        f"{RSS_GOAL_MB:.0f} MB",
        round(peak / 1024 / RSS_GOAL_MB, 3),
        "≤ 1.0",
        peak / 1024 <= RSS_GOAL_MB,
    )


def stage_rss_mb() -> dict[str, float]:
    """RSS of a fresh interpreter after each stage of :data:`STAGES` (MB)."""
    out = {}
    for stage, code in STAGES.items():
        kb = subprocess.run(
            [sys.executable, "-c", code + _PRINT_RSS], capture_output=True, text=True, check=True
        ).stdout.split()[-1]
        out[stage] = round(int(kb) / 1024, 1)
    return out


async def http_memory(
    sb: SandboxProcess, calls: int, every: int, allocator: str = "default"
) -> dict[str, Any]:
    """RSS of ``close-mcp serve`` (every tool) after ``tools/list`` and every ``every`` of ``calls`` mixed
    calls through one streamable-HTTP session. ``allocator``: ``default`` (the server's own choice,
    close_mcp/allocator.py) or a ``PYTHONMALLOC`` value."""
    chosen = {} if allocator == "default" else {"PYTHONMALLOC": allocator}
    proc, base = start_server(sb, env_extra={**CONFIG_ENV, **chosen})
    try:
        await wait_until_serving(f"{base}/healthz")
        started = rss_mb(proc.pid)
        async with (
            httpx2.AsyncClient(timeout=60) as http,
            Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client,
        ):
            tools = await client.list_tools()
            after_list = rss_mb(proc.pid)
            lead_id = sb.lead_ids(1)[0]
            mix: list[tuple[str, dict[str, Any]]] = [
                ("get_lead", {"lead_id": lead_id}),
                ("list_leads", {"limit": 5}),
                ("list_users", {}),
                ("create_note", {"lead_id": lead_id, "note": "memory bench"}),
            ]
            series, errors = [], 0
            for n in range(1, calls + 1):
                name, args = mix[n % len(mix)]
                errors += bool((await client.call_tool(name, args)).is_error)
                if n % every == 0:
                    series.append(rss_mb(proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return {
        "allocator": allocator,
        "tools": len(tools.tools),
        "rss_started_mb": started,
        "rss_after_tools_list_mb": after_list,
        "rss_every_calls_mb": series,
        "growth_after_warmup_mb": round(series[-1] - series[0], 1),
        "peak_mb": max([after_list, *series]),
        "errors": errors,
    }


def bench_memory_http(report: Report, sb: SandboxProcess, calls: int, every: int) -> None:
    """:func:`http_memory` and :func:`stage_rss_mb` as report lines (figures beside the stdio goal)."""
    figures = anyio.run(http_memory, sb, calls, every)
    section = f"memory (HTTP server, one session, {calls} calls)"
    last = {**figures, "last_sample_mb": figures["rss_every_calls_mb"][-1]}
    report.record_several(
        section,
        "RSS after tools/list / last sample",
        last,
        ["rss_after_tools_list_mb", "last_sample_mb"],
        unit="MB",
    )
    report.record(section, "growth after the first sample", figures["growth_after_warmup_mb"], unit="MB")
    report.record(
        section, "peak RSS", figures["peak_mb"], RSS_GOAL_MB, round(figures["peak_mb"] / RSS_GOAL_MB, 3), "MB"
    )
    report.detail(section, "samples", figures)
    stages = stage_rss_mb()
    report.record(
        "memory: where the idle RSS goes (fresh interpreters)",
        "interpreter / + imports / + manifests",
        " / ".join(f"{v}" for v in stages.values()),
        unit="MB",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("calls", type=int, nargs="?", default=10_000)
    parser.add_argument("every", type=int, nargs="?", default=1_000)
    parser.add_argument(
        "--allocator",
        choices=("default", "pymalloc", "malloc"),
        default="default",
        help="the HTTP server's: its own choice, or PYTHONMALLOC",
    )
    args = parser.parse_args()
    with SandboxProcess() as sb:
        figures = {
            "calls": args.calls,
            "stages_mb": stage_rss_mb(),
            "http": anyio.run(http_memory, sb, args.calls, args.every, args.allocator),
        }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
