"""Raw JSON-RPC over a subprocess's stdio: no client SDK in the measurement."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU so far, every thread (``/proc/<pid>/stat``, clock ticks)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class StdioPeer:
    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        self._id = 0
        self.last_reply_bytes = 0  # the last reply's JSON-RPC line as sent, newline included
        self.last_reply_at = 0.0  # perf_counter() when that line had been read

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._id += 1
        msg = {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params or {}}
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            received = time.perf_counter()
            if not line:
                raise RuntimeError("server exited")
            reply = json.loads(line)
            if reply.get("id") == self._id:
                self.last_reply_bytes = len(line)
                self.last_reply_at = received  # before parsing it: a timer can stop here
                return reply

    def notify(self, method: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", "method": method}) + "\n").encode())
        self.proc.stdin.flush()

    def initialize(self) -> None:
        self.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        )
        self.notify("notifications/initialized")

    def rss_kb(self) -> tuple[int, int]:
        """(current RSS, peak RSS) in kB from /proc."""
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def close_with_usage(self) -> resource.struct_rusage:
        """End the server (stdin closed) and reap it with ``os.wait4``: its whole-life CPU usage."""
        if self.proc.stdin:
            self.proc.stdin.close()
        deadline = time.monotonic() + 10
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.proc.kill()
            time.sleep(0.002)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        if self.proc.stdout:
            self.proc.stdout.close()
        return usage

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()
