"""Benchmarks are not tests: this only checks that the replicas benchmark runs on its tiny setting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_replicas_bench_runs_on_tiny_settings(tmp_path: Path):
    out = tmp_path / "replicas.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.replicas", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert {r["redis"] for r in figures["replicas"]} == {True, False}
    assert all(r["served"] > 0 for r in figures["replicas"])
    assert figures["fair_limiter"]["calls"] == 60
    assert "with Redis" in proc.stdout and "fair limiter" in proc.stdout
