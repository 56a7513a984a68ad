"""``close-mcp tools --search WORDS``: the tools ranked by how well their purpose matches the words
(the ranking is :mod:`close_mcp.tool_search`, shared with the ``find_tools`` discovery tool)."""

from __future__ import annotations

from collections.abc import Sequence

from close_mcp.manifest import ToolSpec
from close_mcp.tool_search import rank


def search_table(specs: Sequence[ToolSpec], query: str, limit: int = 10) -> str:
    found = rank(specs, query)[:limit]
    if not found:
        return f"no tool matches {query!r}; `close-mcp tools` lists them all"
    width = max(len(s.name) for _, s in found)
    lines = []
    for _, spec in found:
        first = spec.description.split(". ")[0].rstrip(".")
        lines.append(f"{spec.name.ljust(width)}  {spec.access:<11}  {first[:100]}")
    return "\n".join(lines)
