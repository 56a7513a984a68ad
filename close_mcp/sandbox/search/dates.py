"""Dates and moments for both search languages.

Advanced Filtering date conditions are ``{"type": "moment_range", "on_or_after": M,
"before": M}`` where a moment M is one of (all seen in queries copied from Close's UI with
"Copy Filters" in third-party scripts calling ``/data/search/``):

- ``{"type": "now"}``
- ``{"type": "fixed_local_date", "value": "2023-01-01", "which": "start" | "end"}``
- ``{"type": "offset", "direction": "past" | "future", "moment": M,
  "offset": {"years", "months", "weeks", "days", "hours", "minutes", "seconds"},
  "which_day_end": "start" | "end"}``

Guesses, written down:
- "local" means the ``x-tz-offset`` header's offset (close-api.md §3.3: the header shifts
  relative Advanced-Filtering dates); callers pass it as ``tz``; UTC by default.
- ``which: "end"`` is the end of that day (the next local midnight): Close's UI copies
  "between 1980-01-01 and 2023-01-01" as on_or_after start-of-1980-01-01 / before
  end-of-2023-01-01, which only reads right if the end day is included.
- ``which_day_end`` snaps to the start/end of the local day only when the offset has no
  hours/minutes/seconds: "yesterday" is copied as past 1 day start … past 1 day end, while
  "in the last 2 hours" is copied as past 2 hours with ``which_day_end: "start"`` and
  would be wrong if snapped.
- ``which`` defaults to ``start`` and an ``offset`` without ``moment`` counts from now
  (every copied query spells both out, so the defaults only matter to hand-written ones).
- Stored values: an ISO datetime with an offset is taken as is, a naive one as UTC (Close
  stores UTC), a bare date as that local day's midnight.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from close_mcp.sandbox.search.errors import field_error

__all__ = ["day_bounds", "parse_instant", "relative_day", "resolve_moment", "tz_from_offset"]

_OFFSET_KEYS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def tz_from_offset(hours: float) -> timezone:
    """The fixed timezone an ``x-tz-offset`` value (``-4``, ``5.5``) names."""
    return timezone(timedelta(hours=hours))


def parse_instant(value: Any, tz: timezone) -> datetime | None:
    """A stored date/datetime value as an aware datetime, or None if it is not one."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tz)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        if _DATE_ONLY.match(text):
            return datetime.combine(date.fromisoformat(text), time(), tz)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def day_bounds(day: date, tz: timezone) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of a local day."""
    start = datetime.combine(day, time(), tz)
    return start, start + timedelta(days=1)


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _offset(node: dict[str, Any], now: datetime, tz: timezone, path: str) -> datetime:
    direction = node.get("direction")
    if direction not in ("past", "future"):
        raise field_error("query", f"direction must be 'past' or 'future', not {direction!r}", path)
    amounts = node.get("offset")
    if not isinstance(amounts, dict):
        raise field_error("query", "offset must be an object of years/months/weeks/days/…", path)
    unknown = sorted(set(amounts) - set(_OFFSET_KEYS))
    if unknown:
        raise field_error("query", f"unknown offset unit {unknown[0]!r}", f"{path}.offset")
    parts: dict[str, int] = {}
    for key in _OFFSET_KEYS:
        raw = amounts.get(key, 0) or 0
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise field_error("query", "must be a non-negative integer", f"{path}.offset.{key}")
        parts[key] = raw
    sign = -1 if direction == "past" else 1
    base = resolve_moment(node.get("moment", {"type": "now"}), now, tz, f"{path}.moment")
    moment = _add_months(base, sign * (parts["years"] * 12 + parts["months"]))
    moment += sign * timedelta(
        weeks=parts["weeks"],
        days=parts["days"],
        hours=parts["hours"],
        minutes=parts["minutes"],
        seconds=parts["seconds"],
    )
    which = node.get("which_day_end")
    if which not in (None, "start", "end"):
        raise field_error("query", f"which_day_end must be 'start' or 'end', not {which!r}", path)
    if which and not (parts["hours"] or parts["minutes"] or parts["seconds"]):
        start, end = day_bounds(moment.astimezone(tz).date(), tz)
        moment = start if which == "start" else end
    return moment


def resolve_moment(node: Any, now: datetime, tz: timezone, path: str) -> datetime:
    """One moment of a ``moment_range`` as an aware datetime; 400 naming anything unknown."""
    if not isinstance(node, dict):
        raise field_error("query", "a moment must be an object with a 'type'", path)
    kind = node.get("type")
    if kind == "now":
        return now
    if kind == "fixed_local_date":
        value = node.get("value")
        try:
            day = date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None:
            raise field_error("query", f"value must be a date YYYY-MM-DD, not {value!r}", path)
        which = node.get("which", "start")
        if which not in ("start", "end"):
            raise field_error("query", f"which must be 'start' or 'end', not {which!r}", path)
        start, end = day_bounds(day, tz)
        return start if which == "start" else end
    if kind == "offset":
        return _offset(node, now, tz, path)
    raise field_error("query", f"unknown moment type {kind!r} (expected now, fixed_local_date, offset)", path)


_RELATIVE = re.compile(r"^(\d+)\s+(day|week|month|year)s?\s+ago$")


def relative_day(text: str, now: datetime, tz: timezone) -> date | None:
    """``today``/``yesterday``/``tomorrow``/``N days|weeks|months|years ago`` as a local day.

    Guess: Close's lead search documents relative dates (``last_emailed:today``, Leads docs
    on developer.close.com, with ``x-tz-offset``); the "N … ago" forms are our assumption.
    """
    today = now.astimezone(tz).date()
    lowered = text.strip().casefold()
    fixed = {"today": 0, "yesterday": -1, "tomorrow": 1}
    if lowered in fixed:
        return today + timedelta(days=fixed[lowered])
    match = _RELATIVE.match(lowered)
    if not match:
        return None
    count, unit = int(match.group(1)), match.group(2)
    if unit in ("day", "week"):
        return today - timedelta(days=count * (7 if unit == "week" else 1))
    moment = _add_months(datetime.combine(today, time(), tz), -count * (12 if unit == "year" else 1))
    return moment.date()
