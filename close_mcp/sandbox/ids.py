"""Close-shaped object IDs and timestamps for the sandbox.

Close has two ID formats (shared/close-api.md §5.1): *classic* = prefix + 43 base62
characters (leads, contacts, activities, tasks, custom fields, statuses, users, orgs)
and *newer* = prefix + 22 base62 characters (webhook subscriptions, events, pipelines,
request ids).
"""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime

_BASE62 = string.ascii_letters + string.digits

CLASSIC_PREFIXES = frozenset({"lead", "cont", "oppo", "acti", "task", "cf", "stat", "user", "orga", "memb"})
NEWER_PREFIXES = frozenset({"whsub", "ev", "pipe", "req"})


class IdFactory:
    """Deterministic when seeded: the same seed yields the same IDs in the same order."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def new(self, prefix: str) -> str:
        length = 22 if prefix in NEWER_PREFIXES else 43
        return f"{prefix}_" + "".join(self._rng.choice(_BASE62) for _ in range(length))


def iso(dt: datetime) -> str:
    """Close's object timestamps: ISO-8601 with microseconds and +00:00."""
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def iso_naive(dt: datetime) -> str:
    """Events, webhooks and pipelines use naive UTC timestamps (close-api.md §5.2)."""
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def parse_when(value: str) -> datetime | None:
    """Parse a date or datetime filter value; naive values are taken as UTC."""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)
