"""``close-mcp call TOOL [key=value …] [--json ARGS]``: one tool call through the real server.

The server is built by :mod:`close_mcp.app` exactly as for a host, and driven by an in-memory MCP
client, so validation, scope, confirmation and the audit are the server's own. A destructive call
is confirmed the MCP way: this client answers the server's elicitation with a y/N prompt when
stdin is a terminal; otherwise it offers no elicitation and the server's ``confirm: true`` rule
applies (``--yes`` passes ``confirm=true``).

Exit status: 0 the tool succeeded; 1 the tool failed (Close's error, refused by scope, not
confirmed); 2 a bad invocation (unknown tool, arguments that do not parse or do not validate).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import anyio
import mcp.types as types
from mcp import Client
from mcp.client.session import ClientRequestContext

from close_mcp.app import build_policy, load_specs, open_audit, open_local_app, open_upstream
from close_mcp.commands.render import readable
from close_mcp.commands.values import ArgumentSyntaxError, parse_arguments
from close_mcp.settings import Settings
from close_mcp.tool_handlers import OUTCOME_META
from close_mcp.tool_search import rank

EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE = 0, 1, 2
_YES = ("y", "yes")


@dataclass
class CallRequest:
    tool: str
    words: Sequence[str] = ()
    json_args: str | None = None
    output: str = "text"  # or "json"
    yes: bool = False


class TerminalConfirm:
    """The elicitation callback of this client: the server's question, answered y/N on the terminal."""

    def __init__(self, stdin: TextIO, stderr: TextIO) -> None:
        self.stdin, self.stderr = stdin, stderr

    async def __call__(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        self.stderr.write(f"{params.message}\nGo ahead? [y/N] ")
        self.stderr.flush()
        answer = await anyio.to_thread.run_sync(self.stdin.readline)
        if not answer:  # end of input: nobody said yes
            self.stderr.write("\n")
            return types.ElicitResult(action="cancel")
        if answer.strip().lower() in _YES:
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")


def _usage(message: str, stderr: TextIO) -> int:
    print(f"close-mcp call: {message}", file=stderr)
    return EXIT_USAGE


async def run_call(
    settings: Settings,
    request: CallRequest,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    on_terminal = stdin is not None and stdin.isatty()  # no stdin at all (a closed fd 0) is no terminal
    specs = load_specs(settings)
    policy = build_policy(settings, specs)
    spec = next((s for s in specs if s.name == request.tool), None)
    if spec is None:
        near = [s.name for _, s in rank(specs, request.tool.replace("_", " "))[:3]]
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        return _usage(f"unknown tool {request.tool!r}{hint} (`close-mcp tools` lists them)", stderr)
    try:
        args = parse_arguments(request.words, spec.input_schema, request.json_args)
    except ArgumentSyntaxError as exc:
        return _usage(f"{spec.name}: {exc}", stderr)
    if request.yes:
        args["confirm"] = True
    ask = TerminalConfirm(stdin, stderr) if on_terminal and args.get("confirm") is not True else None
    audit = open_audit(settings, None)
    try:
        async with (
            open_upstream(settings) as upstream,
            open_local_app(settings, upstream, specs=specs, policy=policy, audit=audit) as app,
            Client(app.server, mode="legacy", elicitation_callback=ask) as client,
        ):
            result = await client.call_tool(spec.name, args)
    finally:
        if audit is not None:
            audit.close()
    return _report(result, request.output, stdout, stderr)


def result_data(result: types.CallToolResult) -> dict[str, Any] | None:
    """A successful result's data, whichever form the server sent it in (``--result-form``): its
    ``structuredContent``, else its text parsed as a JSON object; None for a text that is not one."""
    if isinstance(result.structured_content, dict):
        return result.structured_content
    text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _report(result: types.CallToolResult, output: str, stdout: TextIO, stderr: TextIO) -> int:
    outcome = str((result.meta or {}).get(OUTCOME_META, "ok" if not result.is_error else "error"))
    text = "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))
    if result.is_error:
        if output == "json":
            print(json.dumps({"error": text, "outcome": outcome}, ensure_ascii=False, indent=2), file=stdout)
        else:
            print(f"error ({outcome}): {text}", file=stderr)
        return EXIT_USAGE if outcome == "invalid" else EXIT_TOOL_ERROR
    structured = result_data(result)
    if output == "json":
        shown: Any = structured if structured is not None else {"text": text}
        print(json.dumps(shown, ensure_ascii=False, indent=2), file=stdout)
    else:
        print(readable(structured, text), file=stdout)
    return EXIT_OK
