"""The nine everyday tasks of issue 15, played through a real MCP client on the sandbox with the
default toolset: each answer is checked against the sandbox's store, each task's tool calls against
its goal, and the whole run against the budget (under 15 calls and 15,000 characters read)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import connect

from bench.scenarios import (
    CHANGES_GOAL_CHARS,
    TOTAL_CALLS_GOAL,
    TOTAL_CHARS_GOAL,
    colleagues_change_things,
    play,
    report,
)
from close_mcp.settings import Settings

pytestmark = pytest.mark.anyio


async def test_nine_everyday_tasks_take_few_calls_and_answer_exactly(sandbox: Any) -> None:
    await colleagues_change_things(sandbox)
    defaults = replace(Settings.load(environ={}), sandbox=True)  # what a user gets without flags
    async with connect(sandbox, settings=defaults) as client:
        played = await play(client, sandbox)
    lines: list[str] = []
    figures = report(played, lines.append)
    shown = "\n".join(lines)
    assert len(played) == 9, shown
    for task in played:
        assert task.exact, f"{task.name}: wrong answer\n{shown}"
        assert task.calls == task.goal_calls, f"{task.name}: {task.calls} calls\n{shown}"
    changes = next(t for t in played if t.name.startswith("what changed"))
    assert changes.chars < CHANGES_GOAL_CHARS and changes.answer >= 20, shown  # the colleagues' changes
    assert figures["calls"] < TOTAL_CALLS_GOAL and figures["chars"] < TOTAL_CHARS_GOAL, shown
