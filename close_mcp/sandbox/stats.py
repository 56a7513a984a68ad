"""Request accounting: exact counters plus a bounded log of the most recent requests."""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

REQUEST_LOG_SIZE = 10_000


class RequestLog:
    """The last ``capacity`` requests (a ring buffer). ``len()`` is the exact number of
    requests ever logged, so before/after comparisons stay right once old entries drop out;
    iteration and indexing see the retained ones (``log[-1]`` = the latest)."""

    def __init__(self, capacity: int = REQUEST_LOG_SIZE) -> None:
        self._recent: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.total = 0

    def append(self, record: dict[str, Any]) -> None:
        self._recent.append(record)
        self.total += 1

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._recent)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._recent[index]


@dataclass
class Stats:
    statuses: Counter[int] = field(default_factory=Counter)
    requests: RequestLog = field(default_factory=RequestLog)
    by_route: Counter[tuple[str, str]] = field(default_factory=Counter)  # (method, path), exact

    def log(self, record: dict[str, Any]) -> None:
        self.requests.append(record)
        self.by_route[(record["method"], record["path"])] += 1

    @property
    def served_429(self) -> int:
        return self.statuses[429]

    def count(self, method: str, path_pattern: str = ".*") -> int:
        pattern = re.compile(path_pattern)
        return sum(n for (m, path), n in self.by_route.items() if m == method and pattern.fullmatch(path))
