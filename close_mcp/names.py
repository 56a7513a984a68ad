"""Names in place of IDs: the organization's named lists (statuses, pipelines, users, outcomes,
templates…) fetched once per credential and kept briefly, so a tool can take ``"Won"`` or
``dana@acme-demo.example`` where Close wants an ID, and show the name beside an ID it returns.

Which list names an argument is declared in the manifest (``"names": {"list": "/status/lead/",
"label": ["{label}"]}``); this module knows no Close resource. A list is read again after its time
to live, on a name it does not know (it may have been created a moment ago elsewhere), and after
close-mcp's own writes under its path (:meth:`NameCache.wrote`). Unknown names are errors listing
the closest valid ones; a name several objects share is an error listing the candidates, unless the
caller accepts several (a search filter: every "Won" status matches).
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass, field
from typing import Any

from close_mcp.bounded import MAX_CREDENTIALS, cap_oldest, prune
from close_mcp.client import CloseClient

CACHE_SECONDS = 300.0
LOOKUP_LIMIT = 10
_ID = re.compile(r"^[a-z]+_[A-Za-z0-9]{10,}$")
MAX_ITEMS = 1000
PAGE = 100


class UnknownName(Exception):
    """A name that matches nothing, or more than one object where one is needed; the message says which
    names are valid (or which objects share it)."""


@dataclass(frozen=True)
class NameSource:
    """Where names of one kind come from: a Close list path and the label templates that name an item
    (the first is the display name; later ones are accepted too, e.g. a user's email)."""

    path: str
    labels: tuple[str, ...]
    context: str | None = None  # shown beside an ambiguous candidate, e.g. "{pipeline_name}"
    prefer_same: str | None = None  # on ambiguity, the candidate sharing this field with the target
    me: str | None = None  # a path whose object is the caller: "me" stands for its ID
    query: str | None = None  # a long list (leads): searched with this query template, not cached

    @classmethod
    def from_manifest(cls, declared: dict[str, Any]) -> NameSource:
        return cls(
            str(declared["list"]),
            tuple(declared.get("label") or ("{name}",)),
            declared.get("context"),
            declared.get("prefer_same"),
            declared.get("me"),
            declared.get("query"),
        )


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, item: dict[str, Any]) -> str:
    return " ".join(template.format_map(_Blank(item)).split())


@dataclass
class _Fetched:
    at: float
    items: list[dict[str, Any]] = field(default_factory=list)


class NameCache:
    """The named lists, per (credential, list path)."""

    def __init__(self, ttl: float = CACHE_SECONDS, max_entries: int = MAX_CREDENTIALS) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._lists: dict[tuple[str, str], _Fetched] = {}
        self._me: dict[tuple[str, str], str] = {}

    def wrote(self, path: str) -> None:
        """close-mcp wrote to ``path``: forget every list it may have changed."""
        if any(path.startswith(k[1]) or k[1].startswith(path) for k in self._lists):
            self._lists.clear()  # lists nest (a pipeline holds its statuses): all are read again

    async def items(self, client: CloseClient, path: str, *, fresh: bool = False) -> list[dict[str, Any]]:
        key = (client.credential.fingerprint, path)
        cached = self._lists.get(key)
        if cached is not None and not fresh and time.monotonic() - cached.at < self.ttl:
            return cached.items
        found: list[dict[str, Any]] = []
        skip = 0
        while len(found) < MAX_ITEMS:
            params = {"_limit": str(PAGE), "_skip": str(skip)}
            page = (await client.request("GET", path, params=params)).data or {}
            batch = [d for d in page.get("data") or [] if isinstance(d, dict) and "id" in d]
            found += batch
            if not page.get("has_more") or not batch:
                break
            skip += len(batch)
        self._lists[key] = _Fetched(time.monotonic(), found)
        prune(self._lists, lambda fetched: fetched.at, self.ttl, self.max_entries)
        return found

    async def resolve(
        self,
        client: CloseClient,
        source: NameSource,
        given: str,
        *,
        what: str,
        many: bool = False,
        target: dict[str, Any] | None = None,
    ) -> list[str]:
        """The IDs ``given`` (a name, any accepted label, or an ID) stands for. ``many``: every object so
        named (a filter); otherwise exactly one, or :class:`UnknownName` listing the candidates (narrowed
        to those sharing ``source.prefer_same`` with ``target``, e.g. the opportunity's own pipeline)."""
        if source.me and given.strip().casefold() == "me":
            return [await self.me(client, source.me)]
        if source.query:
            return [await self._look_up(client, source, given, what)]
        matches = _matching(await self.items(client, source.path), source, given)
        if not matches:  # perhaps created a moment ago
            matches = _matching(await self.items(client, source.path, fresh=True), source, given)
        if not matches:
            items = await self.items(client, source.path)
            aliases = {fill(t, i): fill(source.labels[0], i) for i in items for t in source.labels}
            raise UnknownName(unknown(what, given, [fill(source.labels[0], i) for i in items], aliases))
        if not many and source.prefer_same and target is not None:
            key = source.prefer_same
            same = [m for m in matches if m.get(key) == target.get(key)]
            if not same:  # never a silent move to another pipeline (or whatever the field groups)
                here = [
                    fill(source.labels[0], i)
                    for i in await self.items(client, source.path)
                    if i.get(key) == target.get(key)
                ]
                shown = "; ".join(_candidate(source, m) for m in matches)
                raise UnknownName(
                    f"{what} {given!r} is not one of this object's {key} {target.get(key)} (those are: "
                    f"{', '.join(repr(h) for h in here) or 'none'}); it exists elsewhere: {shown}. "
                    "To move it there, pass that ID explicitly"
                )
            matches = same
        if len(matches) > 1 and not many:
            shown = "; ".join(_candidate(source, m) for m in matches)
            raise UnknownName(f"{what} {given!r} is ambiguous: {shown}. Pass one of these IDs instead.")
        return [str(m["id"]) for m in matches]

    async def _look_up(self, client: CloseClient, source: NameSource, given: str, what: str) -> str:
        """One object of a long list by ID or by name: an exact name wins, else the only match."""
        if _ID.match(given):
            return given
        query = source.query.format(value=given.replace('"', "")) if source.query else given
        params = {"query": query, "_limit": str(LOOKUP_LIMIT + 1)}
        found = list(((await client.request("GET", source.path, params=params)).data or {}).get("data") or [])
        exact = [
            i for i in found if fill(source.labels[0], i).casefold() == " ".join(given.split()).casefold()
        ]
        matches = exact or found
        if len(matches) == 1:
            return str(matches[0]["id"])
        if not matches:
            raise UnknownName(f"no {what} matches {given!r}; try fewer words, or search for it first")
        shown = "; ".join(_candidate(source, m) for m in matches[:LOOKUP_LIMIT])
        more = " and more (add words to narrow it)" if len(matches) > LOOKUP_LIMIT else ""
        raise UnknownName(f"{what} {given!r} matches several: {shown}{more}. Pass one of these IDs instead.")

    async def me(self, client: CloseClient, path: str) -> str:
        """The caller's ID (the object at ``path``, read once per credential)."""
        key = (client.credential.fingerprint, path)
        if key not in self._me:
            me = str(((await client.request("GET", path)).data or {}).get("id", ""))
            self._me[key] = me
            cap_oldest(self._me, self.max_entries)
            return me
        return self._me[key]

    async def label(self, client: CloseClient, source: NameSource, object_id: str) -> str | None:
        """The display name of an ID, or None (never fetched again just for a label)."""
        for item in await self.items(client, source.path):
            if item.get("id") == object_id:
                return fill(source.labels[0], item)
        return None


def _matching(items: list[dict[str, Any]], source: NameSource, given: str) -> list[dict[str, Any]]:
    wanted = " ".join(given.split()).casefold()
    by_id = [i for i in items if i.get("id") == given]
    if by_id:
        return by_id
    return [i for i in items if any(fill(t, i).casefold() == wanted for t in source.labels)]


def _candidate(source: NameSource, item: dict[str, Any]) -> str:
    context = fill(source.context, item) if source.context else ""
    return f"{fill(source.labels[0], item)}{f' ({context})' if context else ''} = {item['id']}"


def unknown(what: str, given: str, valid: list[str], aliases: dict[str, str] | None = None) -> str:
    """``no status named 'Qualifed'; did you mean 'Qualified'? Valid: …``; ``aliases`` (other accepted
    spellings → display name) are matched too and suggested by their display name."""
    distinct = sorted(set(valid))
    folded = {v.casefold(): v for v in distinct}
    folded.update({a.casefold(): shown for a, shown in (aliases or {}).items() if a})
    close = difflib.get_close_matches(given.casefold(), list(folded), n=3, cutoff=0.5)
    named = list(dict.fromkeys(folded[c] for c in close))
    hint = f"; did you mean {', '.join(repr(n) for n in named)}?" if close else "."
    shown = ", ".join(repr(v) for v in distinct[:20])
    more = f" (and {len(distinct) - 20} more)" if len(distinct) > 20 else ""
    return f"no {what} named {given!r}{hint} Valid: {shown or 'none'}{more}."
