"""Finding tools by what they do: a small ranked word match over name, title, toolset and description.

Used by the ``find_tools`` discovery tool (and ``close-mcp tools --search``). Deliberately simple and
predictable: every query word must appear (as a word prefix, singular or plural) somewhere in the tool's
text; matches in the name count most, then title, toolset, description.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from close_mcp.manifest import ToolSpec

_WORD = re.compile(r"[a-z0-9]+")
_WEIGHTS = (("name", 5.0), ("title", 3.0), ("toolset", 2.0), ("description", 1.0))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("_", " "))


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _fields(spec: ToolSpec) -> dict[str, list[str]]:
    return {
        "name": [_stem(w) for w in _words(spec.name)],
        "title": [_stem(w) for w in _words(spec.title)],
        "toolset": [_stem(w) for w in _words(spec.toolset)],
        "description": [_stem(w) for w in _words(spec.description)],
    }


def rank_tools(specs: Iterable[ToolSpec], query: str) -> list[ToolSpec]:
    """Tools matching every word of ``query``, best first (ties: by name)."""
    wanted = [_stem(w) for w in _words(query)]
    if not wanted:
        return []
    scored: list[tuple[float, str, ToolSpec]] = []
    for spec in specs:
        fields = _fields(spec)
        score = 0.0
        for word in wanted:
            best = max(
                (weight for name, weight in _WEIGHTS if any(w.startswith(word) for w in fields[name])),
                default=0.0,
            )
            if best == 0.0:
                break
            score += best
        else:
            scored.append((-score, spec.name, spec))
    return [spec for _, _, spec in sorted(scored, key=lambda t: (t[0], t[1]))]
