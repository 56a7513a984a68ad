"""Memory of the stdio server with every tool: RSS after ``tools/list``, then sampled every ``every`` calls
over ``calls`` calls cycling ``get_lead`` / ``list_leads`` (limit 5) / ``list_users``. Flat = the last sample
÷ the first (both after calls, so what the first calls build lazily is in both)."""

from __future__ import annotations

import sys

from bench.config import CONFIG_ENV, result_data
from bench.report import Report
from bench.sandbox_process import SandboxProcess
from bench.stdio_rpc import StdioPeer

RSS_GOAL_MB = 80.0
FLAT_GOAL = 1.05


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
