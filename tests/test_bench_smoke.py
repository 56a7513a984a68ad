"""Benchmarks are not tests: this only checks that every benchmark runs on its tiny setting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def _run_quick(module: str, out: Path) -> tuple[subprocess.CompletedProcess[str], Any]:
    """``python -m <module> --quick --out <out>`` from the repository root: the run and its JSON figures."""
    proc = subprocess.run(
        [sys.executable, "-m", module, "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc, json.loads(out.read_text())


def test_bench_runs_on_tiny_settings(tmp_path: Path):
    proc, results = _run_quick("bench.run", tmp_path / "results.json")
    sections = set(results)
    for figure in (
        "cold start (stdio, spawn → tools/list answered)",
        "added latency (stdio",
        "added latency (streamable HTTP",
        "added latency (in memory",
        "memory (stdio server",
        "paging every lead",
        "rate limit (bulk read",
        "fair limiter",
        "context cost",
        "remote load floor",
        "remote load (streamable HTTP",
    ):
        assert any(s.startswith(figure) for s in sections), figure
    goals = {g["name"]: g for g in results["goals"]}
    assert any(
        n.startswith("cold start CPU at tools/list, 306 tools") for n in goals
    )  # every tool loaded and listed
    assert {
        "added latency p50, stdio",
        "added latency p50, streamable HTTP",
        "added latency p50, in memory",
    } <= set(goals)
    assert all(g["met"] in (True, False, None) for g in goals.values())
    assert "Goals (issues 16 and 17)" in proc.stdout and "configuration: --toolsets all" in proc.stdout
    paging = next(v for k, v in results.items() if k.startswith("paging every lead"))
    assert paging["direct paging"]["_fields"]  # read from the sandbox's request log
    assert results["remote load"]["figures"]["failed"] == 0
    assert results["remote load"]["figures"]["writes_lost_or_doubled"] == 0
    assert any(n.startswith("load run: 429s in one window of a group") for n in goals)
    assert any(n.endswith("abandoned sessions: RSS left after the idle timeout") for n in goals)


def test_replicas_bench_runs_on_tiny_settings(tmp_path: Path):
    """Three replicas on one key with Redis and without (needs redis-server, like the Redis tests)."""
    proc, figures = _run_quick("bench.replicas", tmp_path / "replicas.json")
    assert {r["redis"] for r in figures["replicas"]} == {True, False}
    assert all(r["served"] > 0 for r in figures["replicas"])
    assert figures["fair_limiter"]["calls"] == 60
    assert "with Redis" in proc.stdout and "fair limiter" in proc.stdout
