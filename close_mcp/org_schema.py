"""The organization's custom field definitions, fetched once per credential and kept briefly, so tools
can show and take custom fields by name instead of ``cf_…`` IDs.

A manifest opts a tool in with ``"custom_fields": "/custom_field/lead/"`` (the list of definitions that
names the ``custom.cf_…`` keys of its objects). The cache is refreshed after its time to live, on a
name it does not know (a field may just have been created elsewhere), and after any write to
``/custom_field/…`` made through close-mcp.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field
from typing import Any

from close_mcp.bounded import MAX_CREDENTIALS, prune
from close_mcp.client import CloseClient

CACHE_SECONDS = 300.0
MAX_DEFINITIONS = 500
CUSTOM_FIELD_PATHS = "/custom_field/"


class UnknownCustomField(Exception):
    """A custom field name or choice that does not exist; the message lists the closest valid ones."""


@dataclass
class FieldSet:
    """The custom fields of one object kind."""

    fetched: float
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    def by_name(self) -> dict[str, list[dict[str, Any]]]:
        names: dict[str, list[dict[str, Any]]] = {}
        for definition in self.by_id.values():
            names.setdefault(str(definition.get("name", "")).casefold(), []).append(definition)
        return names


class OrgSchema:
    """Custom field definitions per (credential, definitions path)."""

    def __init__(self, ttl: float = CACHE_SECONDS, max_entries: int = MAX_CREDENTIALS) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._sets: dict[tuple[str, str], FieldSet] = {}

    def invalidate(self) -> None:
        self._sets.clear()

    async def fields(self, client: CloseClient, path: str, *, fresh: bool = False) -> FieldSet:
        key = (client.credential.fingerprint, path)
        cached = self._sets.get(key)
        if cached is not None and not fresh and time.monotonic() - cached.fetched < self.ttl:
            return cached
        params = {"_limit": "100", "_fields": "id,name,type,choices,accepts_multiple_values"}
        found: dict[str, dict[str, Any]] = {}
        skip = 0
        while len(found) < MAX_DEFINITIONS:
            page = (await client.request("GET", path, params={**params, "_skip": str(skip)})).data or {}
            items = list(page.get("data") or [])
            found.update({str(d["id"]): d for d in items if isinstance(d, dict) and "id" in d})
            if not page.get("has_more") or not items:
                break
            skip += len(items)
        fetched = self._sets[key] = FieldSet(time.monotonic(), found)
        prune(self._sets, lambda entry: entry.fetched, self.ttl, self.max_entries)
        return fetched

    async def resolve_body(self, client: CloseClient, path: str, body: dict[str, Any]) -> None:
        """Rewrite ``custom.<name>`` keys of a request body to ``custom.cf_…`` and check choices."""
        named = [
            k for k in body if k.startswith("custom.") and not k.removeprefix("custom.").startswith("cf_")
        ]
        choice_keys = [k for k in body if k.startswith("custom.cf_")]
        if not named and not choice_keys:
            return
        fields = await self.fields(client, path)
        if any(k.removeprefix("custom.").casefold() not in fields.by_name() for k in named):
            fields = await self.fields(client, path, fresh=True)  # perhaps created a moment ago
        names = fields.by_name()
        for key in named:
            wanted = key.removeprefix("custom.")
            matches = names.get(wanted.casefold(), [])
            if not matches:
                raise UnknownCustomField(
                    _unknown("custom field", wanted, [d["name"] for d in fields.by_id.values()])
                )
            if len(matches) > 1:
                ids = ", ".join(str(d["id"]) for d in matches)
                raise UnknownCustomField(
                    f"custom field name {wanted!r} is ambiguous ({ids}); pass the cf_ ID instead"
                )
            body[f"custom.{matches[0]['id']}"] = body.pop(key)
        for key in [k for k in body if k.startswith("custom.cf_")]:
            definition = fields.by_id.get(key.removeprefix("custom."))
            if definition is not None:
                _check_choices(definition, body[key])

    def name_keys(self, fields: FieldSet, obj: Any) -> Any:
        """``custom.cf_…`` keys of a result (or of each item of a list result) shown by name."""
        if isinstance(obj, list):
            return [self.name_keys(fields, item) for item in obj]
        if not isinstance(obj, dict):
            return obj
        names: dict[str, list[dict[str, Any]]] | None = None  # built on the first custom key only
        out: dict[str, Any] = {}
        for key, value in obj.items():
            definition = (
                fields.by_id.get(key.removeprefix("custom.")) if key.startswith("custom.cf_") else None
            )
            if not definition:
                out[key] = value
                continue
            if names is None:
                names = fields.by_name()
            name = str(definition.get("name", ""))
            unique = bool(name) and len(names.get(name.casefold(), [])) == 1 and "." not in name
            out[f"custom.{name}" if unique else key] = value
        if isinstance(out.get("items"), list):
            out["items"] = self.name_keys(fields, out["items"])
        return out


def _check_choices(definition: dict[str, Any], value: Any) -> None:
    choices = definition.get("choices")
    if definition.get("type") != "choices" or not isinstance(choices, list) or value is None:
        return
    values = value if isinstance(value, list) else [value]
    for one in values:
        if one not in choices:
            raise UnknownCustomField(
                _unknown(
                    f"choice for custom field {definition.get('name')!r}", str(one), [str(c) for c in choices]
                )
            )


def _unknown(what: str, given: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(given, valid, n=3, cutoff=0.5) or difflib.get_close_matches(
        given.casefold(), [v.casefold() for v in valid], n=3, cutoff=0.5
    )
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "."
    shown = ", ".join(repr(v) for v in sorted(valid)[:20])
    return f"no {what} named {given!r}{hint} Valid: {shown or 'none'}."
