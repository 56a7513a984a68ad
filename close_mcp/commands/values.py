"""``key=value`` words of ``close-mcp call`` → tool arguments, typed by the tool's input schema.

``limit=2`` is an integer because ``limit`` is one, while ``query=2024`` stays the text "2024"
because ``query`` is a string. Booleans take ``true/false`` (also ``yes/no``, ``1/0``); lists and
objects take JSON, and a list of strings also takes a comma list (``fields=id,display_name``).
A key the schema does not know is guessed from its text (JSON if it parses, else a string), so the
server's own validation names it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

_TRUE, _FALSE = ("true", "yes", "y", "1", "on"), ("false", "no", "n", "0", "off")


class ArgumentSyntaxError(ValueError):
    """A word on the command line that cannot become a tool argument (exit status 2)."""


def _types(prop: dict[str, Any]) -> list[str]:
    kind = prop.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    if isinstance(kind, str):
        return [kind]
    if "enum" in prop:
        return ["enum"]
    return []


def _json(key: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ArgumentSyntaxError(
            f"{key}: not valid JSON ({exc.msg} at character {exc.pos}): {raw}"
        ) from None


def parse_value(key: str, raw: str, prop: dict[str, Any] | None) -> Any:
    """One value, typed by its schema property (``None``: the tool does not declare it)."""
    kinds = _types(prop or {})
    if not kinds:
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    if "integer" in kinds or "number" in kinds:
        try:
            return int(raw)
        except ValueError:
            pass
        if "number" in kinds:
            try:
                return float(raw)
            except ValueError:
                pass
        if "string" not in kinds:
            raise ArgumentSyntaxError(f"{key}: expected a number, got {raw!r}")
    if "boolean" in kinds:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        if "string" not in kinds:
            raise ArgumentSyntaxError(f"{key}: expected true or false, got {raw!r}")
    if "array" in kinds:
        if raw.lstrip().startswith("["):
            return _json(key, raw)
        items = (prop or {}).get("items") or {}
        if _types(items) in (["string"], []):
            return [part.strip() for part in raw.split(",") if part.strip()]
        raise ArgumentSyntaxError(f"{key}: expected a JSON list, e.g. {key}='[...]'")
    if "object" in kinds:
        return _json(key, raw)
    if "enum" in kinds and raw not in ((prop or {}).get("enum") or []):
        try:
            return json.loads(raw)  # e.g. a numeric enum; a wrong word stays text for the server to name
        except json.JSONDecodeError:
            return raw
    return raw


def parse_arguments(
    words: Sequence[str], schema: dict[str, Any], json_args: str | None = None
) -> dict[str, Any]:
    """``--json '{…}'`` first, then each ``key=value`` over it."""
    args: dict[str, Any] = {}
    if json_args:
        loaded = _json("--json", json_args)
        if not isinstance(loaded, dict):
            raise ArgumentSyntaxError("--json must be a JSON object, e.g. --json '{\"limit\": 2}'")
        args.update(loaded)
    properties = schema.get("properties") or {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep or not key:
            raise ArgumentSyntaxError(f"expected key=value, got {word!r}")
        args[key] = parse_value(key, raw, properties.get(key))
    return args
