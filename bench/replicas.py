"""Several replicas, one Close key: throughput as a share of the limit and 429s reaching the sandbox,
with the replicas sharing their buckets in Redis vs each pacing alone; and the fair limiter's longest
wait against first-come-first-served's bound.

    python -m bench.replicas                # 3 replicas, --rate-limit 10, 2 alternated rounds of 12 s
    python -m bench.replicas --quick        # 1 round of 4 s (tests/test_redis_bench.py runs it)

Needs ``redis-server`` on PATH (``apt-get install -y redis-server``). Nothing here asserts a timing.

* **replicas**: 3 real ``close-mcp serve`` processes (``--wait-budget 10``) on one sandbox key limited
  to ``--rate-limit`` requests per second per endpoint group; 4 streamable-HTTP clients per replica call
  ``get_current_user`` (one ``GET /me/``) in a loop. Throughput = requests Close (the sandbox) served
  ÷ (seconds × limit); 429s = those the sandbox sent, and per second (= per window). Rounds alternate
  Redis / no Redis so drift lands on both sides.
* **fair limiter**: one client, 10 concurrent callers, ``--rate-limit 5``, 6 calls each: the longest
  wait of one call vs (callers ahead ÷ rate) + one window = 9 ÷ 5 + 1 = 2.8 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.sandbox_process import SandboxProcess
from close_mcp.client import CloseClient
from close_mcp.credentials import Credential
from close_mcp.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from close_mcp.uvicorn_runner import wait_until_serving

CALLERS_PER_REPLICA = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def redis_server() -> AsyncIterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("bench.replicas needs redis-server (apt-get install -y redis-server)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with anyio.fail_after(10):
            while True:
                try:
                    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                        await stream.send(b"PING\r\n")
                        if (await stream.receive()).startswith(b"+PONG"):
                            break
                except OSError:
                    await anyio.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


@asynccontextmanager
async def replicas(sb: RunningSandbox, count: int, redis_url: str | None) -> AsyncIterator[list[str]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CLOSE_API_KEY": sb.api_key,
        "CLOSE_API_BASE_URL": sb.base_url,
        "CLOSE_MCP_AUDIT_LOG": "off",
        **({"CLOSE_MCP_REDIS_URL": redis_url} if redis_url else {}),
    }
    procs, bases = [], []
    try:
        for _ in range(count):
            port = free_port()
            cmd = [sys.executable, "-m", "close_mcp", "serve", "--port", str(port), "--wait-budget", "10"]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            await wait_until_serving(f"{base}/healthz", timeout=30)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


async def load(bases: list[str], seconds: float) -> dict[str, int]:
    """Callers on every replica for ``seconds``; tool calls done and failed."""
    done = failed = 0
    stop_at = time.monotonic() + seconds

    async def caller(base: str) -> None:
        nonlocal done, failed
        async with (
            httpx2.AsyncClient(timeout=30) as http,
            Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client,
        ):
            while time.monotonic() < stop_at:
                result = await client.call_tool("get_current_user", {})
                if result.is_error:
                    failed += 1
                else:
                    done += 1

    async with anyio.create_task_group() as tg:
        for base in bases:
            for _ in range(CALLERS_PER_REPLICA):
                tg.start_soon(caller, base)
    return {"calls": done, "failed": failed}


async def one_round(limit: int, seconds: float, shared: bool, count: int) -> dict[str, Any]:
    async with run_sandbox(SandboxConfig(leads=5, rate_limit=limit)) as sb, AsyncExitStack() as stack:
        url = await stack.enter_async_context(redis_server()) if shared else None
        bases = await stack.enter_async_context(replicas(sb, count, url))
        stats = sb.sandbox.stats
        await load(bases, 1.0)  # warm: sessions, first windows learned
        served0, tripped0 = stats.count("GET", "/me/") - stats.statuses[429], stats.statuses[429]
        started = time.monotonic()
        calls = await load(bases, seconds)
        elapsed = time.monotonic() - started
        served = stats.count("GET", "/me/") - stats.statuses[429] - served0
        tripped = stats.statuses[429] - tripped0
    return {
        "redis": shared,
        "seconds": round(elapsed, 2),
        "share_of_limit": round(served / (elapsed * limit), 3),
        "served": served,
        "429s": tripped,
        "429s_per_window": round(tripped / elapsed, 2),
        **calls,
    }


async def fair_limiter(
    limit: int = 5, callers: int = 10, calls_each: int = 6, sandbox: SandboxProcess | None = None
) -> dict[str, Any]:
    """Longest single wait with ``callers`` concurrent callers vs FCFS's bound, against a sandbox in its
    own process (``sandbox``, or one started here) limited to ``limit`` requests/s for the run."""
    waits: list[float] = []
    with ExitStack() as stack:
        sb = sandbox or stack.enter_context(SandboxProcess(leads=5))
        sb.set_rate_limit(limit)
        try:
            before = sb.stats()["served_429"]
            async with CloseClient(Credential(sb.api_key), sb.base_url, wait_budget=60) as client:
                await client.request("GET", "/me/")  # the limits are known before the callers start

                async def caller() -> None:
                    for _ in range(calls_each):
                        started = time.monotonic()
                        await client.request("GET", "/me/")
                        waits.append(time.monotonic() - started)

                async with anyio.create_task_group() as tg:
                    for _ in range(callers):
                        tg.start_soon(caller)
            tripped = sb.stats()["served_429"] - before
        finally:
            sb.set_rate_limit(None)
    bound = (callers - 1) / limit + 1.0
    longest = max(waits)
    return {
        "callers": callers,
        "limit": limit,
        "calls": len(waits),
        "longest_wait_s": round(longest, 2),
        "median_wait_s": round(statistics.median(waits), 2),
        "fcfs_bound_s": round(bound, 2),
        "ratio_to_bound": round(longest / bound, 2),
        "429s": tripped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rate-limit", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    rounds, seconds = (1, 4.0) if args.quick else (2, 12.0)
    runs: list[dict[str, Any]] = []
    for _ in range(rounds):
        for shared in (True, False):  # alternated
            runs.append(anyio.run(one_round, args.rate_limit, seconds, shared, args.replicas))
    fair = anyio.run(fair_limiter)
    print(f"{args.replicas} replicas, one key, --rate-limit {args.rate_limit}, {seconds:.0f} s per round")
    print(f"{'':14}{'share of limit':>16}{'429s':>8}{'429s/window':>13}{'calls':>8}{'failed':>8}")
    for shared in (True, False):
        mine = [r for r in runs if r["redis"] is shared]
        share = statistics.median(r["share_of_limit"] for r in mine)
        trips = statistics.median(r["429s"] for r in mine)
        per = statistics.median(r["429s_per_window"] for r in mine)
        calls = sum(r["calls"] for r in mine)
        failed = sum(r["failed"] for r in mine)
        label = "with Redis" if shared else "without Redis"
        print(f"{label:14}{share:>16.3f}{trips:>8g}{per:>13.2f}{calls:>8}{failed:>8}")
    spread = {
        label: [r["share_of_limit"] for r in runs if r["redis"] is shared]
        for label, shared in (("redis", True), ("none", False))
    }
    print(f"  (share per round: with Redis {spread['redis']}, without {spread['none']})")
    print(
        f"fair limiter: {fair['callers']} callers at {fair['limit']}/s: longest wait {fair['longest_wait_s']} s "
        f"vs FCFS bound {fair['fcfs_bound_s']} s (ratio {fair['ratio_to_bound']}), "
        f"median {fair['median_wait_s']} s, {fair['429s']} 429s"
    )
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"replicas": runs, "fair_limiter": fair}, handle, indent=2)


if __name__ == "__main__":
    main()
