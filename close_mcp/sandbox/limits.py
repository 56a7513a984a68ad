"""Close-style rate limiting for the sandbox (shared/close-api.md §1).

Fixed windows per endpoint group, with a per-key ceiling and a per-organization ceiling
at ``org_multiplier`` × the key limit. Every response carries ``RateLimit`` for the
bucket closest to its limit; a 429 adds ``retry-after`` (reset rounded up) and, when
configured, the legacy body carrying ``rate_reset``.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Literal

HeaderStyle = Literal["comma", "semicolon"]
LegacyBody = Literal["none", "top", "error"]


@dataclass
class Window:
    limit: int
    seconds: float
    started: float = 0.0
    used: int = 0

    def roll(self, now: float) -> None:
        if now - self.started >= self.seconds:
            self.started, self.used = now, 0

    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def reset(self, now: float) -> float:
        return max(self.seconds - (now - self.started), 0.0)


@dataclass
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: float
    group: str
    limit_type: str


def endpoint_group(method: str, path: str) -> str:
    """Endpoint groups are unpublished (close-api.md §1.1); the sandbox uses reads vs writes."""
    return "read" if method in ("GET", "HEAD") else "write"


@dataclass
class RateLimiter:
    per_key: int
    window_seconds: float = 1.0
    org_multiplier: int = 3
    windows: dict[tuple[str, str, str], Window] = field(default_factory=dict)

    def _window(self, kind: str, owner: str, group: str, limit: int) -> Window:
        key = (kind, owner, group)
        if key not in self.windows:
            self.windows[key] = Window(limit=limit, seconds=self.window_seconds, started=time.monotonic())
        return self.windows[key]

    def check(self, key: str, org_id: str, group: str) -> Verdict:
        now = time.monotonic()
        key_w = self._window("key", key, group, self.per_key)
        org_w = self._window("org", org_id, group, self.per_key * self.org_multiplier)
        for w in (key_w, org_w):
            w.roll(now)
        blocked = next(((w, t) for w, t in ((key_w, "key"), (org_w, "org")) if w.remaining() == 0), None)
        if blocked:
            w, kind = blocked
            return Verdict(False, w.limit, 0, w.reset(now), group, kind)
        key_w.used += 1
        org_w.used += 1
        # The header describes the limit the request is closest to hitting.
        w, kind = min(((key_w, "key"), (org_w, "org")), key=lambda p: p[0].remaining() / p[0].limit)
        return Verdict(True, w.limit, w.remaining(), w.reset(now), group, kind)


def ratelimit_header(v: Verdict, style: HeaderStyle) -> str:
    sep = "; " if style == "semicolon" else ", "
    reset = f"{v.reset:.0f}" if abs(v.reset - round(v.reset)) < 0.0005 else f"{v.reset:.3f}"
    return sep.join([f"limit={v.limit}", f"remaining={v.remaining}", f"reset={reset}"])


def too_many_requests(
    v: Verdict, style: HeaderStyle, legacy: LegacyBody
) -> tuple[dict[str, str], dict[str, object]]:
    headers = {"RateLimit": ratelimit_header(v, style), "Retry-After": str(max(1, math.ceil(v.reset)))}
    legacy_fields = {
        "message": "API call count exceeded for this period",
        "rate_reset": round(v.reset, 6),
        "rate_limit": v.limit,
        "rate_window": 1,
        "rate_limit_type": v.limit_type,
        "rate_endpoint_group": hashlib.md5(v.group.encode()).hexdigest(),
    }
    if legacy == "top":
        body: dict[str, object] = {**legacy_fields, "rate_reset": f"{v.reset:.6f}"}
    elif legacy == "error":
        body = {"error": legacy_fields}
    else:
        body = {"error": "Rate limit exceeded. Pause for the RateLimit header's reset seconds, then retry."}
    return headers, body
