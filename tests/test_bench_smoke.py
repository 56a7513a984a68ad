"""Benchmarks are not tests: this only checks that every benchmark runs on its tiny setting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_runs_on_tiny_settings(tmp_path: Path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
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
