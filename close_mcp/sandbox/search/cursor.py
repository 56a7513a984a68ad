"""Opaque, signed, expiring cursors for ``/data/search/``.

Facts: the cursor expires after 30 s (Close docs); an expired one is answered
``400 {"errors": [], "field-errors": {"cursor": "Expired cursor"}}`` (OBS-PHP, measured at
35.2 s; close-api.md §2.3). Guesses: the 30 s run from when the cursor was issued; a
cursor that was not issued by us, or belongs to a different query, sort or
``results_limit``, is ``"Invalid cursor"``. The cursor carries an offset into the
(deterministically ordered) result list, a fingerprint of the request and its issue time,
signed with HMAC-SHA256 so clients cannot forge positions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from close_mcp.sandbox.search.errors import field_error

__all__ = ["CURSOR_TTL_SECONDS", "CursorCodec", "fingerprint"]

CURSOR_TTL_SECONDS = 30.0


def fingerprint(parts: Any) -> str:
    """A short stable digest of the request parts a cursor is bound to."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class CursorCodec:
    """Issues and checks cursors with one secret."""

    secret: bytes

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self.secret, body.encode(), hashlib.sha256).digest()[:18])

    def encode(self, offset: int, issued_at: float, request_fingerprint: str) -> str:
        body = _b64(json.dumps({"o": offset, "t": issued_at, "f": request_fingerprint}).encode())
        return f"{body}.{self._sign(body)}"

    def decode(self, cursor: Any, now: float, request_fingerprint: str) -> int:
        """The offset a cursor points at; a 400 if it is forged, foreign or expired."""
        if not isinstance(cursor, str):
            raise field_error("cursor", "Invalid cursor")
        body, _, signature = cursor.partition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            raise field_error("cursor", "Invalid cursor")
        try:
            payload = json.loads(_unb64(body))
            offset, issued, bound = int(payload["o"]), float(payload["t"]), str(payload["f"])
        except (ValueError, KeyError, TypeError):
            raise field_error("cursor", "Invalid cursor") from None
        if now - issued > CURSOR_TTL_SECONDS:
            raise field_error("cursor", "Expired cursor")
        if bound != request_fingerprint or offset < 0:
            raise field_error("cursor", "Invalid cursor")
        return offset
