"""Cold start: spawn → ``initialize`` answered → ``tools/list`` answered over stdio (raw JSON-RPC, no client
SDK), close-mcp with every tool vs ``bench/minimal_server.py`` (one tool on the same SDK's low-level
``Server``), alternated run by run. The goal's figure is the CPU (user + system, ``/proc``) the child has
used when ``tools/list`` is answered; also its whole life's CPU from ``os.wait4`` (start, the two answers,
and exit on stdin EOF: close-mcp freezes its start-up objects, so its exit skips collecting them, which
the floor does not) and wall time to the answer. Before measuring, close_mcp's bytecode is compiled (as an
install does; this machine sets ``PYTHONDONTWRITEBYTECODE``, so an edited module would otherwise be
compiled at every start) and each server is started once unmeasured (the manifest cache is filled, files
are in the page cache). Plus the sandbox's own start and the import offenders."""

from __future__ import annotations

import compileall
import statistics
import subprocess
import sys
import time
from pathlib import Path

import close_mcp
from bench.config import CONFIG_ENV
from bench.report import Report
from bench.sandbox_process import SandboxProcess
from bench.stdio_rpc import StdioPeer

HERE = Path(__file__).resolve().parent
PY = sys.executable
COLD_START_GOAL = 1.10


def spawn_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """(wall to tools/list answered, CPU at that answer, CPU of the whole life, tools listed)."""
    started = time.perf_counter()
    peer = StdioPeer(cmd, env)
    peer.initialize()
    listed = peer.request("tools/list")
    wall = time.perf_counter() - started
    cpu_at_answer = peer.cpu_seconds()
    usage = peer.close_with_usage()
    return wall, cpu_at_answer, usage.ru_utime + usage.ru_stime, len(listed["result"]["tools"])


def bench_cold_start(report: Report, sb: SandboxProcess, runs: int) -> None:
    section = "cold start (stdio, spawn → tools/list answered)"
    ours_cmd, floor_cmd = [PY, "-m", "close_mcp"], [PY, str(HERE / "minimal_server.py")]
    env = sb.env(**CONFIG_ENV)
    compileall.compile_dir(str(Path(close_mcp.__file__).parent), quiet=1)
    for cmd in (floor_cmd, ours_cmd):
        spawn_once(cmd, env)  # unmeasured: the manifest cache and the page cache filled
    ours: list[tuple[float, float, float, int]] = []
    floor: list[tuple[float, float, float, int]] = []
    for n in range(runs):  # alternated, and which goes first alternates too
        pair = [(floor, floor_cmd), (ours, ours_cmd)]
        for series, cmd in pair if n % 2 == 0 else reversed(pair):
            series.append(spawn_once(cmd, env))
    tools = ours[0][3]

    def med(series: list[tuple[float, float, float, int]], i: int) -> float:
        return statistics.median(s[i] for s in series)

    for i, label in ((2, "CPU user+sys (wait4, whole life)"), (1, "CPU at tools/list (/proc)"), (0, "wall")):
        o, f = med(ours, i), med(floor, i)
        report.record(section, f"{label}, {tools} tools vs 1", o * 1000, f * 1000, round(o / f, 3), "ms")
    cpu_ratio = med(ours, 1) / med(floor, 1)
    report.detail(section, "runs", runs)
    report.detail(
        section, "CPU ratio per pair", [round(o[1] / f[1], 3) for o, f in zip(ours, floor, strict=True)]
    )
    report.goal(
        f"cold start CPU at tools/list, {tools} tools (median of {runs})",
        round(med(ours, 1) * 1000, 1),
        f"one-tool server {med(floor, 1) * 1000:.0f} ms",
        round(cpu_ratio, 3),
        f"≤ {COLD_START_GOAL}×",
        cpu_ratio <= COLD_START_GOAL,
    )
    starts = []
    for _ in range(max(1, runs // 2)):
        t = time.perf_counter()
        with SandboxProcess():
            starts.append(time.perf_counter() - t)
    median = statistics.median(starts)
    report.record("cold start", "sandbox subprocess → listening", median * 1000, 1000, round(median, 2), "ms")
    import_offenders(report)


def import_offenders(report: Report) -> None:
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
    report.detail(
        "cold start",
        "import top offenders (cumulative us)",
        [{"us": us, "module": m.strip()} for us, m in top],
    )
    report.record(
        "cold start",
        "import offenders (cumulative ms)",
        ", ".join(f"{m.strip()} {us / 1000:.0f}" for us, m in top[:4]),
    )
    ours_only = sorted((e for e in entries if "close_mcp" in e[1]), reverse=True)[:3]
    report.detail(
        "cold start",
        "close_mcp modules (cumulative us)",
        [{"us": us, "module": m.strip()} for us, m in ours_only],
    )
