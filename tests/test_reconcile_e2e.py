"""Every tool with a ``reconcile`` declaration, end to end, with the answer to its write lost.

Each tool's own e2e case (``tests/e2e_cases``) runs through a real MCP session while the sandbox drops
the connection *after* it processed the tool's write (the write happened, its answer never arrived):
the case's own checks must still pass, so close-mcp found the object it wrote and answered with it,
as the ``ok:reconciled`` outcome says. This checks every declaration (list path, filters, matched
fields, re-read path) against a real write with real arguments."""

from __future__ import annotations

import re

import e2e_cases  # noqa: F401  (registers every case)
import pytest
from conftest import SPECS, connect, payload
from e2e_cases.registry import CASES, Call

from close_mcp.sandbox import FaultRule, RunningSandbox
from close_mcp.tool_handlers import OUTCOME_META

pytestmark = pytest.mark.anyio

RECONCILED = sorted(s.name for s in SPECS if s.reconcile is not None)
BY_NAME = {s.name: s for s in SPECS}


def _path_pattern(path: str) -> str:
    return re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(path))


class _Watching(Call):
    """A case's calls, remembering the outcome of each call of the tool under test."""

    def __init__(self, client, sandbox: RunningSandbox, tool: str) -> None:
        super().__init__(client, sandbox)
        self.tool, self.outcomes = tool, []

    async def __call__(self, name, args):
        if name != self.tool:
            return await super().__call__(name, args)
        confirm = {"confirm": True} if BY_NAME[name].access == "destructive" else {}
        result = await self.client.call_tool(name, {**args, **confirm})
        self.outcomes.append((result.meta or {}).get(OUTCOME_META))
        assert not result.is_error, f"{name}: {result.content[0].text}"
        return payload(result)


def test_most_writes_are_reconciled():
    writes = [s for s in SPECS if s.method != "GET" and s.access != "read"]
    assert len(RECONCILED) >= 0.75 * len(writes), f"only {len(RECONCILED)} of {len(writes)} writes"


@pytest.mark.parametrize("tool", RECONCILED)
async def test_a_lost_answer_is_found_out(tool: str, sandbox: RunningSandbox) -> None:
    spec = BY_NAME[tool]
    sandbox.sandbox.faults.add(
        FaultRule("drop_after", path=_path_pattern(spec.path), method=spec.method, times=None)
    )
    async with connect(sandbox) as client:
        call = _Watching(client, sandbox, tool)
        await CASES[tool].run(call)
    assert call.outcomes and set(call.outcomes) == {"ok:reconciled"}, call.outcomes
