"""Fault injection for tests: forced statuses, latency, 429s and dropped connections.

Rules match a method (or any) and a regular expression over the path under
``/api/v1``; each fires ``times`` times (``None`` = until cleared).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["status", "latency", "rate_limit", "drop_before", "drop_after"]


class DropConnection(Exception):
    """Raised to make the server close the connection without a complete response."""


@dataclass
class FaultRule:
    kind: FaultKind
    path: str = ".*"
    method: str | None = None
    status: int = 500
    delay: float = 0.0
    reset: float = 1.0
    times: int | None = 1
    body: dict[str, Any] | None = None
    fired: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        exhausted = self.times is not None and self.fired >= self.times
        return not exhausted and (self.method in (None, method)) and bool(self._pattern.fullmatch(path))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        allowed = {"kind", "path", "method", "status", "delay", "reset", "times", "body"}
        unknown = set(data) - allowed
        if unknown or data.get("kind") not in (
            "status",
            "latency",
            "rate_limit",
            "drop_before",
            "drop_after",
        ):
            raise ValueError(f"bad fault rule {data!r}")
        return cls(**{k: v for k, v in data.items() if k in allowed})


@dataclass
class Faults:
    rules: list[FaultRule] = field(default_factory=list)

    def add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str, path: str, kinds: tuple[FaultKind, ...]) -> list[FaultRule]:
        fired = []
        for rule in self.rules:
            if rule.kind in kinds and rule.matches(method, path):
                rule.fired += 1
                fired.append(rule)
                if rule.kind != "latency":  # one status/drop/429 per request; latencies add up
                    break
        return fired
