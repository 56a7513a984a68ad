"""Finding tools by what they do, for ``find_tools`` and ``close-mcp tools --search``.

A word found in the tool's name counts most, then its toolset and title, then its description; words
match on their stem (``deleting`` finds ``delete_lead``, ``opportunities`` finds ``opportunity``). A tool
matching every word beats one matching a few; tools matching no word are left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from close_mcp.manifest import ToolSpec

_WEIGHTS = (("name", 5.0), ("toolset", 3.0), ("title", 3.0), ("description", 1.0))
_SUFFIXES = ("ities", "ies", "ing", "es", "ed", "s", "y", "e")
_STOP = {"a", "an", "the", "of", "to", "for", "in", "on", "and", "or", "by", "with", "my", "all", "i"}


def stem(word: str) -> str:
    word = word.lower()
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _stems(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP}


def rank(specs: Sequence[ToolSpec], query: str) -> list[tuple[float, ToolSpec]]:
    """Matching tools, best first (ties keep the manifest order)."""
    wanted = _stems(query)
    scored: list[tuple[float, int, ToolSpec]] = []
    for position, spec in enumerate(specs):
        fields = {
            "name": _stems(spec.name.replace("_", " ")),
            "toolset": _stems(spec.toolset.replace("_", " ")),
            "title": _stems(spec.title),
            "description": _stems(spec.description),
        }
        score = 0.0
        matched = 0
        for word in wanted:
            hits = [weight for field, weight in _WEIGHTS if word in fields[field]]
            if hits:
                matched += 1
                score += max(hits) + 0.1 * len(hits)
        if matched:
            score *= matched / len(wanted)  # a tool matching every word beats one matching a few
            scored.append((score, position, spec))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [(score, spec) for score, _, spec in scored]


def rank_tools(specs: Sequence[ToolSpec], query: str) -> list[ToolSpec]:
    """Matching tools, best first."""
    return [spec for _, spec in rank(specs, query)]
