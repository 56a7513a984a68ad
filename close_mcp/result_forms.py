"""How a successful tool result carries its data, and what the output budget counts for it.

Hosts read one of the two places a result has room for. Most forward the ``content`` text to the model and
ignore ``structuredContent``; some (Claude Code, Copilot CLI) forward ``structuredContent`` instead whenever
it is present; a few forward both, so a result sent twice in full lands twice in the agent's context. The
spec asks for ``structuredContent`` only from tools that declare an ``outputSchema``, which close-mcp's
tools do not. So by default a result is its JSON as text, once (``text``); ``structured`` sends the JSON
as ``structuredContent`` with a one-line text pointer, for hosts that read that; ``both`` sends both in full.
Sources: modelcontextprotocol.io/specification (server/tools, "Structured Content": MUST with an outputSchema,
SHOULD mirror as text); anthropics/claude-code#9962, #54450, #79944 (structuredContent forwarded instead of
the text); github/copilot-cli#3258 (same), #4515 and microsoft/copilot-intellij-feedback#2058 (both forwarded);
modelcontextprotocol/modelcontextprotocol#1411 (most clients ignore structuredContent); microsoft/vscode#254329.

The budget counts the payload as it goes inside the JSON-RPC message: the text is a JSON string there, so
each ``"`` and ``\\`` of it is sent escaped (two characters). ``render``'s output holds no raw control
characters (json escapes them already) and keeps non-ASCII as is, as the SDK's serializer does, so the
escaped size is ``len + count('"') + count('\\')``. Characters, not UTF-8 bytes (the agent's context
is text).
"""

from __future__ import annotations

from typing import Any

import mcp.types as types

from close_mcp.settings import RESULT_FORMS
from close_mcp.trim import escaped_len

TEXT, STRUCTURED, BOTH = RESULT_FORMS
POINTER = "The result is in structuredContent ({size} characters of JSON)."
# What ``structured`` sends beside the JSON, whatever its size: the pointer (62 characters for a 5-digit size)
# and the ``"structuredContent":`` key.
POINTER_RESERVE = 100


def _plain_len(text: str) -> int:
    return len(text)


def _both_len(text: str) -> int:
    return 2 * len(text) + text.count('"') + text.count("\\")


class ResultForm:
    """One of ``text`` (default), ``structured``, ``both``: the result built, and its size measured."""

    def __init__(self, form: str = TEXT) -> None:
        if form not in RESULT_FORMS:
            raise ValueError(f"unknown result form {form!r}; choose from: {', '.join(RESULT_FORMS)}")
        self.form = form
        # ``measure`` is additive (the size of two texts is the sum of theirs), so items can be counted
        # one by one; ``reserve`` is what the form sends beside the payload, whatever its size.
        self.measure = {TEXT: escaped_len, STRUCTURED: _plain_len, BOTH: _both_len}[form]
        self.reserve = POINTER_RESERVE if form == STRUCTURED else 0

    def result(self, data: dict[str, Any], text: str) -> types.CallToolResult:
        """A successful result carrying ``data`` (whose compact JSON is ``text``) in this form."""
        if self.form == TEXT:
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)])
        if self.form == STRUCTURED:
            pointer = POINTER.format(size=len(text))
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=pointer)], structured_content=data
            )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], structured_content=data
        )
