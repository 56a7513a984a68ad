"""Checking a Close webhook delivery (close-api.md §7, D-HOOK): ``close-sig-hash`` is the hex
HMAC-SHA256 of ``close-sig-timestamp`` + the raw body, keyed with the subscription's hex-decoded
``signature_key``. Compared in constant time, against every accepted key without an early exit.

Close documents no replay window (close-api.md §7 ❓): the tolerance is ours, five minutes by
default, as Stripe and Slack use for the same scheme.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

SIG_HEADER, TIMESTAMP_HEADER = "close-sig-hash", "close-sig-timestamp"


def expected_signature(signature_key: str, timestamp: str, body: bytes) -> bytes | None:
    """The hex digest as bytes, or None for a key that is not hex."""
    try:
        key = bytes.fromhex(signature_key)
    except ValueError:
        return None
    return hmac.new(key, timestamp.encode("ascii") + body, hashlib.sha256).hexdigest().encode("ascii")


def signature_matches(keys: Iterable[str], timestamp: str, body: bytes, signature: str) -> bool:
    """True when ``signature`` was made with one of ``keys``; time does not depend on which one."""
    try:
        given = signature.strip().lower().encode("ascii")
        timestamp.encode("ascii")
    except UnicodeError:
        return False
    matched = False
    for key in keys:
        expected = expected_signature(key, timestamp, body)
        if expected is not None and hmac.compare_digest(expected, given):
            matched = True
    return matched


def timestamp_age(timestamp: str, now: float) -> float | None:
    """Seconds between the delivery's timestamp and now (either way), or None when it is not a number."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return None
    return abs(now - int(timestamp))
