"""close-mcp benchmarks: every figure beside its floor, measured in the same run.

    python -m bench.run            # full run (a few minutes on 2 cores)
    python -m bench.run --quick    # tiny settings (the smoke test uses this)

Prints a table and writes bench/results.json. Timings are medians; ratios are what to compare.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client

from bench.remote_load import abandoned_sessions, remote_load, text_of
from bench.stdio_rpc import StdioPeer
from close_mcp.app import Upstream, open_local_app
from close_mcp.client import CloseClient
from close_mcp.credentials import Credential
from close_mcp.executor import Executor
from close_mcp.manifest import load_manifests
from close_mcp.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from close_mcp.settings import Settings

HERE = Path(__file__).resolve().parent
PY = sys.executable
SPECS = load_manifests()
rows: list[tuple[str, str, str, str]] = []
results: dict[str, Any] = {}


def record(section: str, name: str, value: Any, floor: Any = "", ratio: Any = "", unit: str = "") -> None:
    results.setdefault(section, {})[name] = {"value": value, "floor": floor, "ratio": ratio, "unit": unit}
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    rows.append((f"{section}: {name}", f"{fmt(value)} {unit}".strip(), f"{fmt(floor)}", fmt(ratio)))


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]


def record_latency(section: str, via: list[float], direct: list[float]) -> None:
    """get_lead through close-mcp vs the direct httpx2 GET: both percentiles, their ratio, and the added ms."""
    for p in (50, 95):
        ours, floor = pct(via, p), pct(direct, p)
        record(section, f"get_lead p{p}", ours * 1000, floor * 1000, round(ours / floor, 2), "ms")
        record(section, f"added latency p{p}", round((ours - floor) * 1000, 3), unit="ms")


def local_app(sb: RunningSandbox, settings: Settings | None = None):
    """The server as the CLI builds it, on one shared client to the sandbox."""
    settings = settings or Settings(sandbox=True)
    return open_local_app(settings, Upstream(sb.base_url, Credential(sb.api_key)), specs=SPECS)


async def bench_tools_list_cost(sb: RunningSandbox) -> None:
    """Characters of tools/list (the wire form a host reads) per configuration, and per tool."""
    configs: list[tuple[str, Settings]] = [
        ("default", Settings(sandbox=True)),
        ("default, --scope read", Settings(sandbox=True, scope="read")),
        ("all", Settings(sandbox=True, toolsets=["all"])),
        ("all, --scope read", Settings(sandbox=True, toolsets=["all"], scope="read")),
    ]
    configs += [
        (f"toolset {t}", Settings(sandbox=True, toolsets=[t])) for t in sorted({s.toolset for s in SPECS})
    ]
    for name, settings in configs:
        async with local_app(sb, settings) as app, Client(app.server, mode="legacy") as client:
            tools = (await client.list_tools()).tools
        text = json.dumps(
            [t.model_dump(by_alias=True, exclude_none=True) for t in tools], separators=(",", ":")
        )
        per = round(len(text) / max(1, len(tools)))
        record("tools/list cost", name, len(text), unit=f"chars, {len(tools)} tools, {per} per tool")


def tokens(text: str) -> int:
    """Approximate tokens: ~4 characters each (no offline tokenizer is available here)."""
    return round(len(text) / 4)


class SandboxProcess:
    """The sandbox as a subprocess (so the measured servers don't share its CPU time in-process)."""

    def __enter__(self) -> SandboxProcess:
        self.proc = subprocess.Popen(
            [PY, "-m", "close_mcp", "sandbox", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout
        line = self.proc.stdout.readline()
        self.base_url = line.strip().split()[-1]
        self.key = self.proc.stdout.readline().split(":", 1)[1].split()[0].rstrip(",")
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


def _env(sb: SandboxProcess) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "CLOSE_API_KEY": sb.key, "CLOSE_API_BASE_URL": sb.base_url}


# ----- cold start ----------------------------------------------------------------------------
def bench_cold_start(sb: SandboxProcess, runs: int) -> None:
    def spawn(cmd: list[str]) -> float:
        started = time.perf_counter()
        peer = StdioPeer(cmd, _env(sb))
        peer.initialize()
        peer.request("tools/list")
        elapsed = time.perf_counter() - started
        peer.close()
        return elapsed

    ours, floor = [], []
    for _ in range(runs):  # interleaved, so machine noise hits both alike
        floor.append(spawn([PY, str(HERE / "minimal_server.py")]))
        ours.append(spawn([PY, "-m", "close_mcp"]))
    o, f = statistics.median(ours), statistics.median(floor)
    record("cold start", "spawn → tools/list answered", o * 1000, f * 1000, round(o / f, 2), "ms")
    starts = []
    for _ in range(runs):
        t = time.perf_counter()
        with SandboxProcess():
            starts.append(time.perf_counter() - t)
    median = statistics.median(starts)
    record("cold start", "sandbox subprocess → listening", median * 1000, 1000, round(median, 2), "ms")
    proc = subprocess.run(
        [PY, "-X", "importtime", "-c", "import close_mcp.cli, close_mcp.app, close_mcp.executor"],
        capture_output=True,
        text=True,
    )
    entries = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            entries.append((int(parts[1]), parts[2].rstrip()))
    top = sorted(entries, reverse=True)[:6]
    results["cold start"]["import top offenders (cumulative us)"] = [
        {"us": us, "module": m.strip()} for us, m in top
    ]
    ours_only = sorted((e for e in entries if "close_mcp" in e[1]), reverse=True)[:3]
    results["cold start"]["close_mcp modules (cumulative us)"] = [
        {"us": us, "module": m.strip()} for us, m in ours_only
    ]


# ----- per-call overhead, throughput, memory (stdio) -------------------------------------------
async def bench_overhead(calls: int) -> None:
    async with run_sandbox(SandboxConfig()) as sb:
        lead_id = next(iter(sb.sandbox.store().leads))
        direct: list[float] = []
        async with httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as http:
            for _ in range(calls):
                t = time.perf_counter()
                (await http.get(f"/lead/{lead_id}/")).raise_for_status()
                direct.append(time.perf_counter() - t)
        async with local_app(sb) as app:
            via: list[float] = []
            async with Client(app.server, mode="legacy") as client:
                for _ in range(calls):
                    t = time.perf_counter()
                    result = await client.call_tool("get_lead", {"lead_id": lead_id})
                    via.append(time.perf_counter() - t)
                    assert not result.is_error
                for concurrency in (1, 10, 50):
                    total = max(calls, concurrency * 4)
                    started = time.perf_counter()

                    async def worker(n: int) -> None:
                        for _ in range(n):
                            await client.call_tool("get_lead", {"lead_id": lead_id})

                    async with anyio.create_task_group() as tg:
                        for _ in range(concurrency):
                            tg.start_soon(worker, total // concurrency)
                    rate = (total // concurrency * concurrency) / (time.perf_counter() - started)
                    record(
                        "throughput (in-memory, limits off)",
                        f"{concurrency} concurrent callers",
                        rate,
                        unit="calls/s",
                    )
    record_latency("per-call overhead (in-memory)", via, direct)


def bench_stdio(sb: SandboxProcess, calls: int) -> None:
    peer = StdioPeer([PY, "-m", "close_mcp"], _env(sb))
    peer.initialize()
    peer.request("tools/list")
    idle, _ = peer.rss_kb()
    lead = peer.request("tools/call", {"name": "list_leads", "arguments": {"limit": 1}})
    lead_id = json.loads(lead["result"]["content"][0]["text"])["items"][0]["id"]
    via = []
    for _ in range(calls):
        t = time.perf_counter()
        reply = peer.request("tools/call", {"name": "get_lead", "arguments": {"lead_id": lead_id}})
        via.append(time.perf_counter() - t)
        assert not reply["result"].get("isError")
    direct = []
    with httpx2.Client(base_url=sb.base_url, auth=(sb.key, "")) as http:
        for _ in range(calls):
            t = time.perf_counter()
            http.get(f"/lead/{lead_id}/").raise_for_status()
            direct.append(time.perf_counter() - t)
    for n in range(max(0, 1000 - calls)):
        peer.request(
            "tools/call",
            {
                "name": "list_users" if n % 2 else "get_lead",
                "arguments": {} if n % 2 else {"lead_id": lead_id},
            },
        )
    after, peak = peer.rss_kb()
    peer.close()
    record_latency("per-call overhead (stdio)", via, direct)
    record(
        "memory (stdio server)",
        "RSS idle after tools/list",
        idle / 1024,
        80,
        round(idle / 1024 / 80, 2),
        "MB",
    )
    record(
        "memory (stdio server)",
        "RSS after 1000 calls",
        after / 1024,
        idle / 1024,
        round(after / idle, 2),
        "MB",
    )
    record("memory (stdio server)", "peak RSS", peak / 1024, 80, round(peak / 1024 / 80, 2), "MB")


# ----- rate limits ------------------------------------------------------------------------------
async def bench_rate_limited(limit: int, page: int) -> None:
    """Bulk-read every lead page by page under a configured limit; utilisation of the limit and 429s."""
    async with (
        run_sandbox(SandboxConfig(rate_limit=limit)) as sb,
        CloseClient(Credential(sb.api_key), sb.base_url) as close,
    ):
        executor = Executor(output_budget=1_000_000)
        spec = next(s for s in SPECS if s.name == "list_leads")
        starts: list[float] = []
        cursor, count = None, 0
        t0 = time.perf_counter()
        while True:
            starts.append(time.perf_counter())
            args = {"limit": page, "fields": ["id"], **({"cursor": cursor} if cursor else {})}
            out = await executor.call(spec, args, executor.plan(spec, args), close)
            count += out.structured["count"]
            cursor = out.structured["next_cursor"]
            if not cursor:
                break
        elapsed = time.perf_counter() - t0
        requests = len(starts)
        ideal = (
            (requests - 1) // limit * 1.0
        )  # fixed 1 s windows: the first burst is free, then one window per `limit`
        record(
            "rate limit (bulk read)",
            "requests",
            requests,
            unit=f"({count} leads, {page}/page, limit {limit}/s)",
        )
        record(
            "rate limit (bulk read)",
            "achieved rate vs limit",
            requests / elapsed,
            limit,
            round(requests / elapsed / limit, 3),
            "req/s",
        )
        record(
            "rate limit (bulk read)",
            "pacing efficiency (ideal time / actual)",
            round(ideal / elapsed, 3),
            0.95,
        )
        record(
            "rate limit (bulk read)",
            "429s served",
            sb.sandbox.stats.served_429,
            f"<= {math.ceil(elapsed)} (1/window)",
        )


# ----- context cost -----------------------------------------------------------------------------
async def bench_context() -> None:
    async with (
        run_sandbox(SandboxConfig()) as sb,
        local_app(sb) as app,
        Client(app.server, mode="legacy") as client,
    ):
        listed = await client.list_tools()
        text = json.dumps(
            [t.model_dump(by_alias=True, exclude_none=True) for t in listed.tools],
            separators=(",", ":"),
        )
        record(
            "context cost",
            "tools/list",
            len(text),
            unit=f"chars (~{tokens(text)} tokens, {len(listed.tools)} tools)",
        )
        per_tool = sorted(
            ((len(json.dumps(t.model_dump(by_alias=True, exclude_none=True))), t.name) for t in listed.tools),
            reverse=True,
        )
        results["context cost"]["largest tools (chars)"] = [{"tool": n, "chars": c} for c, n in per_tool[:5]]
        results["context cost"]["median tool (chars)"] = statistics.median(c for c, _ in per_tool)
        await bench_tools_list_cost(sb)
        store = sb.sandbox.store()
        lead_id = next(iter(store.leads))
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
                out = text_of(result)
                data = json.loads(out)  # the default result form: the JSON is the text
                if "items" in data:
                    raw_items = json.loads(raw)["data"]
                    kept = {i["id"] for i in data["items"]}
                    assert kept == {i["id"] for i in raw_items[: len(kept)]}
                record(
                    "context cost (raw Close vs tool output)",
                    tool,
                    len(out),
                    len(raw),
                    round(len(out) / len(raw), 3),
                    f"chars (~{tokens(out)} vs ~{tokens(raw)} tokens)",
                )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny settings for a smoke run")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    runs, calls = (1, 10) if args.quick else (7, 300)
    with SandboxProcess() as sb:
        bench_cold_start(sb, runs)
        bench_stdio(sb, calls if not args.quick else 20)
    anyio.run(bench_overhead, calls)
    anyio.run(bench_rate_limited, 10 if not args.quick else 50, 5 if not args.quick else 50)
    anyio.run(bench_context)
    load = anyio.run(remote_load, *((3, 2.0, 20) if args.quick else (50, 30.0, 20)))
    results["remote load"] = load
    record(
        "remote load (streamable HTTP)",
        f"{load['clients']} clients x {load['seconds']} s",
        load["calls_per_s"],
        unit="calls/s",
    )
    record("remote load (streamable HTTP)", "failed calls", load["failed"], 0)
    record(
        "remote load (streamable HTTP)",
        "writes lost or doubled",
        load["writes_lost_or_doubled"] + load["writes_unacked_but_made"],
        0,
        unit=f"(of {load['writes_acked']} acknowledged)",
    )
    record(
        "remote load (streamable HTTP)",
        "call latency p50 / p95 / p99",
        f"{load['p50_ms']} / {load['p95_ms']} / {load['p99_ms']}",
        unit="ms",
    )
    record(
        "remote load (streamable HTTP)",
        f"429s served (sandbox limit {load['rate_limit']}/s per group)",
        load["served_429"],
        unit=f"in {load['seconds']} s",
    )
    record(
        "remote load (streamable HTTP)",
        "server RSS before / after",
        f"{load['rss_before_mb']} / {load['rss_after_mb']}",
        unit="MB",
    )
    idle = anyio.run(abandoned_sessions, *((20, 1.0) if args.quick else (500, 5.0)))
    results["abandoned sessions"] = idle
    record(
        f"{idle['sessions']} abandoned sessions",
        "server RSS before / open / after idle timeout",
        f"{idle['rss_before_mb']} / {idle['rss_open_mb']} / {idle['rss_after_idle_timeout_mb']}",
        unit="MB",
    )
    record(
        f"{idle['sessions']} abandoned sessions", "memory per open session", idle["mb_per_session"], unit="MB"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>22}  {'floor/baseline':>16}  ratio")
    for name, value, floor, ratio in rows:
        print(f"{name.ljust(width)}  {value:>22}  {floor:>16}  {ratio}")
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
