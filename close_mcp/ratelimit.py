"""Client-side rate limiting: read Close's ``RateLimit`` header, pace, and share 429 pauses.

One :class:`Bucket` per (credential, endpoint group). Every concurrent call in a bucket
waits on the same pause, so one 429 never becomes a stampede; while a bucket's limits are
unknown only one request probes it. Groups are not published by Close: requests start in
a bucket per (read/write, resource) and are merged into one when a 429 names its
``rate_endpoint_group``.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

DEFAULT_RESET = 1.0
SAFETY_MARGIN = 0.01
WaitCallback = Callable[[float], Awaitable[None]]
_KV = re.compile(r"\s*([A-Za-z_-]+)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*")


@dataclass(frozen=True)
class RateLimitInfo:
    limit: int
    remaining: int
    reset: float


def parse_ratelimit(value: str | None) -> RateLimitInfo | None:
    """``limit=100, remaining=50, reset=5`` with ``,`` or ``;``, any key order, decimal reset."""
    if not value:
        return None
    found: dict[str, float] = {}
    for part in re.split(r"[,;]", value):
        m = _KV.fullmatch(part)
        if m:
            found.setdefault(m.group(1).lower(), float(m.group(2)))
    if not {"limit", "remaining", "reset"} <= found.keys():
        return None
    return RateLimitInfo(int(found["limit"]), int(found["remaining"]), max(found["reset"], 0.0))


def reset_after_429(headers: Mapping[str, str], body: Any) -> float:
    """Seconds to pause, in order of trust: RateLimit reset, retry-after, legacy body rate_reset, default."""
    info = parse_ratelimit(headers.get("ratelimit"))
    if info is not None:
        return info.reset
    retry_after = headers.get("retry-after", "")
    try:
        return max(float(retry_after), 0.0)
    except ValueError:
        pass
    if isinstance(body, dict):
        for holder in (body, body.get("error")):
            if isinstance(holder, dict) and holder.get("rate_reset") is not None:
                try:
                    return max(float(holder["rate_reset"]), 0.0)
                except (TypeError, ValueError):
                    pass
    return DEFAULT_RESET


def endpoint_group_of(body: Any) -> str | None:
    if isinstance(body, dict):
        for holder in (body, body.get("error")):
            if isinstance(holder, dict) and isinstance(holder.get("rate_endpoint_group"), str):
                return str(holder["rate_endpoint_group"])
    return None


class WaitTooLong(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.wait = wait


@dataclass
class Bucket:
    limit: int | None = None
    remaining: int | None = None
    window_end: float = 0.0
    window_len: float = 0.0
    paused_until: float = 0.0
    unmetered: bool = False  # responses carry no RateLimit header: rely on 429s only
    probing: bool = False
    probe_done: anyio.Event = field(default_factory=anyio.Event)

    def _wait_needed(self, now: float) -> float | None:
        """Seconds to wait before sending; ``None`` = wait for the probe in flight."""
        if self.paused_until > now:
            return self.paused_until - now + SAFETY_MARGIN
        if self.limit is None:
            return None if (self.probing and not self.unmetered) else 0.0
        if now >= self.window_end:
            self.remaining = self.limit
            self.window_end = now + self.window_len
        if self.remaining is not None and self.remaining <= 0:
            return self.window_end - now + SAFETY_MARGIN
        return 0.0

    async def acquire(self, deadline: float, on_wait: WaitCallback | None = None) -> None:
        while True:
            now = time.monotonic()
            wait = self._wait_needed(now)
            if wait == 0.0:
                if self.limit is None and not self.unmetered:
                    self.probing = True
                if self.remaining is not None:
                    self.remaining -= 1
                return
            if wait is None:
                if now >= deadline:
                    raise WaitTooLong(0.1)
                with anyio.move_on_after(max(deadline - now, 0.0)):
                    await self.probe_done.wait()
                continue
            if now + wait > deadline:
                raise WaitTooLong(wait)
            if on_wait is not None:
                await on_wait(wait)
            await anyio.sleep(wait + random.uniform(0, min(0.02, wait * 0.1)))

    def observe(self, headers: Mapping[str, str]) -> None:
        info = parse_ratelimit(headers.get("ratelimit"))
        now = time.monotonic()
        if info is None:
            if self.limit is None:
                self.unmetered = True
        else:
            end = now + info.reset
            self.window_len = max(self.window_len, info.reset)
            if self.limit is None or end > self.window_end + 0.25:  # first sight, or a newer window
                self.limit, self.remaining, self.window_end = info.limit, info.remaining, end
            elif end >= self.window_end - 0.25:  # same window: trust the lower count
                self.limit = info.limit
                self.remaining = min(
                    self.remaining if self.remaining is not None else info.remaining, info.remaining
                )
                self.window_end = max(self.window_end, end)
        self._end_probe()

    def pause(self, seconds: float) -> None:
        """A 429: everyone in this bucket waits until the same moment."""
        now = time.monotonic()
        self.paused_until = max(self.paused_until, now + seconds)
        self.remaining = 0
        self.window_end = max(self.window_end, now + seconds)
        self._end_probe()

    def release_probe(self) -> None:
        """The probe failed without a response: let the next request probe instead."""
        self._end_probe()

    def _end_probe(self) -> None:
        if self.probing:
            self.probing = False
            self.probe_done.set()
            self.probe_done = anyio.Event()


@dataclass
class RateLimiter:
    """All buckets of one process, keyed by credential fingerprint and endpoint group."""

    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)

    @staticmethod
    def provisional_group(method: str, path: str) -> str:
        resource = path.strip("/").split("/")[0] or "root"
        return f"{'read' if method == 'GET' else 'write'}:{resource}"

    def bucket(self, credential: str, method: str, path: str) -> Bucket:
        provisional = self.provisional_group(method, path)
        group = self.aliases.get((credential, provisional), provisional)
        return self.buckets.setdefault((credential, group), Bucket())

    def learn_group(self, credential: str, method: str, path: str, close_group: str) -> Bucket:
        """A 429 named Close's endpoint group: requests of this kind share that group's bucket."""
        provisional = self.provisional_group(method, path)
        key = (credential, provisional)
        if self.aliases.get(key) != close_group:
            old = self.buckets.get((credential, self.aliases.get(key, provisional)))
            self.aliases[key] = close_group
            merged = self.buckets.setdefault((credential, close_group), Bucket())
            if old is not None and old is not merged:
                merged.paused_until = max(merged.paused_until, old.paused_until)
        return self.buckets[(credential, close_group)]
