"""The one exception the search modules raise, in Close's 400 shapes.

Close answers a malformed request with ``{"errors": [...], "field-errors": {...}}``; both keys
are present and one is often empty (close-api.md §4, CLX recordings; the ``_limit`` error
observed by OBS-PHP is ``{"errors": [], "field-errors": {"_limit": "Input should be ..."}}``).

Guess (no Close source shows a nested query error): a problem inside the query tree is
reported under the request key it belongs to (``query``, ``sort``, ``_fields``, ``cursor``)
and the message starts with the path to the offending node, e.g.
``"queries[1].condition.type: unknown condition type 'fuzzy'"``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SearchError", "field_error"]


class SearchError(Exception):
    """A request the search cannot answer; ``status`` and ``body`` are the HTTP answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body

    def __str__(self) -> str:
        return f"{self.status} {self.body}"


def field_error(key: str, message: str, path: str = "") -> SearchError:
    """A 400 naming one request field; ``path`` locates the node inside that field."""
    text = f"{path}: {message}" if path else message
    return SearchError(400, {"errors": [], "field-errors": {key: text}})
