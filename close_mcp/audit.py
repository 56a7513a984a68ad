"""The audit log: one JSON line per tool call, allowed or refused, flushed as it is written.

A crash loses at most the line in flight (``fsync`` makes that hold across a power loss too).
Arguments are recorded with secrets and long texts redacted; credentials never appear.
"""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SECRET_NAMES = re.compile(r"(key|token|secret|password|signature|authorization)", re.IGNORECASE)
_CLOSE_ID = re.compile(r"^[a-z]+_[A-Za-z0-9]{10,}$")
MAX_TEXT = 200
MAX_IDS = 50


def redact(value: Any, name: str = "") -> Any:
    if name and _SECRET_NAMES.search(name):
        return "[redacted]"
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else f"{value[:60]}… [{len(value)} chars]"
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, name) for v in value[:50]]
    return value


def close_ids(*values: Any) -> list[str]:
    """Close object IDs found in arguments and results (e.g. lead_…, task_…), in order, capped."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if len(found) >= MAX_IDS:
            return
        if isinstance(v, str) and _CLOSE_ID.match(v) and v not in found:
            found.append(v)
        elif isinstance(v, dict):
            for key in ("id", *sorted(k for k in v if k != "id")):
                if key in v and key not in ("organization_id", "created_by", "updated_by", "user_id"):
                    walk(v[key])
        elif isinstance(v, list):
            for item in v:
                walk(item)

    for value in values:
        walk(value)
    return found


class AuditLog:
    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path, self.fsync = path, fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the process lifetime
        self._lock = threading.Lock()

    def write(
        self,
        *,
        agent: str,
        tool: str,
        access: str,
        arguments: dict[str, Any],
        outcome: str,
        duration_ms: float,
        ids: list[str],
        request_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        record = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "agent": agent,
            "tool": tool,
            "access": access,
            "arguments": redact(arguments),
            "ids": ids,
            "outcome": outcome,
            "duration_ms": round(duration_ms, 1),
        }
        if request_id:  # only a real one: Close's answers need not name their request
            record["close_request_id"] = request_id
        if detail:
            record["detail"] = detail[:300]
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self._fh.write(line)
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()
