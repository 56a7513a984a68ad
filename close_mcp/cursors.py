"""Opaque, signed paging cursors.

A cursor names the tool, a hash of its filter arguments and the position of the first
item not yet returned: an offset (``_skip``) or Close's own cursor plus an index inside
that page. It is signed with a key derived from the credential, so a cursor from another
tool, another query or a tampered one is refused with a clear error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any


class CursorError(Exception):
    pass


@dataclass(frozen=True)
class Position:
    skip: int = 0
    close_cursor: str | None = None
    index: int = 0


def filters_hash(args: dict[str, Any], ignore: frozenset[str]) -> str:
    relevant = {k: v for k, v in args.items() if k not in ignore}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:12]


def _sign(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()[:16]


def encode(tool: str, filters: str, position: Position, secret: bytes) -> str:
    body: dict[str, Any] = {"t": tool, "f": filters}
    if position.close_cursor is not None:
        body.update(c=position.close_cursor, i=position.index)
    else:
        body["s"] = position.skip
    payload = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(secret, payload)


def decode(token: str, tool: str, filters: str, secret: bytes) -> Position:
    try:
        b64, signature = token.rsplit(".", 1)
        payload = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        body = json.loads(payload)
    except (ValueError, TypeError):
        raise CursorError(
            "`cursor` is not a cursor close-mcp issued; pass next_cursor exactly as returned."
        ) from None
    if not hmac.compare_digest(signature, _sign(secret, payload)) or not isinstance(body, dict):
        raise CursorError(
            "`cursor` was altered or comes from another session or key; start again without a cursor."
        )
    if body.get("t") != tool:
        raise CursorError(
            f"`cursor` belongs to {body.get('t')}, not {tool}; use each tool's own next_cursor."
        )
    if body.get("f") != filters:
        raise CursorError(
            "`cursor` was issued for different filter arguments; repeat the same filters with it, "
            "or start again without a cursor."
        )
    if "c" in body:
        return Position(close_cursor=str(body["c"]), index=int(body.get("i", 0)))
    return Position(skip=int(body.get("s", 0)))
