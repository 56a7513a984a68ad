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
    _, results = _run_quick("bench.run", tmp_path / "results.json")
    assert {
        "cold start",
        "per-call overhead (stdio)",
        "per-call overhead (in-memory)",
        "memory (stdio server)",
        "rate limit (bulk read)",
        "context cost",
        "remote load",
    } <= set(results)
    assert results["remote load"]["failed"] == 0 and results["remote load"]["writes_lost_or_doubled"] == 0


def test_replicas_bench_runs_on_tiny_settings(tmp_path: Path):
    """Three replicas on one key with Redis and without (needs redis-server, like the Redis tests)."""
    proc, figures = _run_quick("bench.replicas", tmp_path / "replicas.json")
    assert {r["redis"] for r in figures["replicas"]} == {True, False}
    assert all(r["served"] > 0 for r in figures["replicas"])
    assert figures["fair_limiter"]["calls"] == 60
    assert "with Redis" in proc.stdout and "fair limiter" in proc.stdout
