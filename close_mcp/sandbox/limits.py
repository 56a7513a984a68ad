"""Close-style rate limits for the sandbox (shared/close-api.md §1).

Fixed windows per endpoint group, with a per-key ceiling and a per-organization ceiling
at ``org_multiplier`` × the key limit. Every API response carries ``RateLimit`` for the
bucket closest to its limit; a 429 adds ``retry-after`` (reset rounded up) and, when
configured, the legacy body carrying ``rate_reset``.

Header styles (close-api.md §1.2):

* ``"semicolon"`` (default, as observed live 2026-08/09, OBS-APP/OBS-EMU/OBS-RL):
  ``RateLimit: limit=100; remaining=99; reset=1`` with an integer ``reset`` (rounded up),
  plus the split ``ratelimit-limit`` / ``ratelimit-remaining`` / ``ratelimit-reset`` headers.
  Close's official client (closeio-api 2.1) matches ``limit=<int>, remaining=<int>,
  reset=<int>`` only, so with this form it falls back to ``Retry-After``, as against live Close.
* ``"comma"`` (documented, D-RL): ``RateLimit: limit=100, remaining=50, reset=5``; ``reset``
  is decimal when the window has a fractional part left (``reset=0.734``).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

HeaderStyle = Literal["comma", "semicolon"]
LegacyBody = Literal["none", "top", "error"]
# Guess: with no configured limit the sandbox still meters and advertises, as Close does on
# most responses, with a ceiling no test or demo reaches (observed live ceilings are 16-600).
GENEROUS_LIMIT = 10_000


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
    window: float = 1.0  # seconds: the legacy body's rate_window


def endpoint_group(method: str, path: str) -> str:
    """Endpoint groups are unpublished (close-api.md §1.1); the sandbox uses reads vs writes."""
    return "read" if method in ("GET", "HEAD") else "write"


@dataclass
class LimitEnforcer:
    """Counts requests per (key, group) and (organization, group) and decides on 429s."""

    per_key: int
    window_seconds: float = 1.0
    org_multiplier: int = 3
    windows: dict[tuple[str, str, str], Window] = field(default_factory=dict)
    # 429s served per window of a group (key or org, owner, group, the window's start): what the
    # client's pacing is judged by (issue 17: at most one 429 per group per window)
    refused: Counter[tuple[str, str, str, float]] = field(default_factory=Counter)

    def _window(self, kind: str, owner: str, group: str, limit: int, now: float) -> Window:
        key = (kind, owner, group)
        if key not in self.windows:
            self.windows[key] = Window(limit=limit, seconds=self.window_seconds, started=now)
        return self.windows[key]

    def check(self, key: str, org_id: str, group: str) -> Verdict:
        now = time.monotonic()
        key_w = self._window("key", key, group, self.per_key, now)
        org_w = self._window("org", org_id, group, self.per_key * self.org_multiplier, now)
        for w in (key_w, org_w):
            w.roll(now)
        blocked = next(((w, t) for w, t in ((key_w, "key"), (org_w, "org")) if w.remaining() == 0), None)
        if blocked:
            w, kind = blocked
            self.refused[(kind, key if kind == "key" else org_id, group, w.started)] += 1
            return Verdict(False, w.limit, 0, w.reset(now), group, kind, self.window_seconds)
        key_w.used += 1
        org_w.used += 1
        # The header describes the limit the request is closest to hitting.
        w, kind = min(((key_w, "key"), (org_w, "org")), key=lambda p: p[0].remaining() / p[0].limit)
        return Verdict(True, w.limit, w.remaining(), w.reset(now), group, kind, self.window_seconds)

    def refusals(self) -> dict[str, Any]:
        """The 429s by window: how many windows of a group served any, and the most in one window."""
        return {
            "windows_with_429": len(self.refused),
            "most_429_in_one_window": max(self.refused.values(), default=0),
            "429_by_window": [
                {"limit_type": kind, "group": group, "window_start": round(started, 3), "count": n}
                for (kind, _owner, group, started), n in sorted(self.refused.items(), key=lambda kv: kv[0][3])
            ],
        }


def ratelimit_headers(v: Verdict, style: HeaderStyle) -> dict[str, str]:
    if style == "semicolon":
        reset = str(math.ceil(v.reset))
        return {
            "RateLimit": f"limit={v.limit}; remaining={v.remaining}; reset={reset}",
            "ratelimit-limit": str(v.limit),
            "ratelimit-remaining": str(v.remaining),
            "ratelimit-reset": reset,
        }
    reset = f"{v.reset:.0f}" if abs(v.reset - round(v.reset)) < 0.0005 else f"{v.reset:.3f}"
    return {"RateLimit": f"limit={v.limit}, remaining={v.remaining}, reset={reset}"}


def too_many_requests(
    v: Verdict, style: HeaderStyle, legacy: LegacyBody
) -> tuple[dict[str, str], dict[str, object]]:
    headers = {**ratelimit_headers(v, style), "Retry-After": str(max(1, math.ceil(v.reset)))}
    legacy_fields = {
        "message": "API call count exceeded for this period",
        "rate_reset": round(v.reset, 6),
        "rate_limit": v.limit,
        "rate_window": int(v.window) if float(v.window).is_integer() else v.window,
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
