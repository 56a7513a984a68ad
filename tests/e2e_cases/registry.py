"""The end-to-end case registry: ``@case(tool)`` registers how to exercise one tool against the sandbox.

One module per Close area in this package (the same areas as ``tool_manifests/``) holds its cases;
``tests/test_tools_e2e.py`` runs them all, one test per tool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from conftest import SPECS, text_of

from close_mcp.sandbox import RunningSandbox

DESTRUCTIVE = {s.name for s in SPECS if s.access == "destructive"}


class Call:
    """Calls tools on one session; asserts each succeeded."""

    def __init__(self, client: Any, sandbox: RunningSandbox) -> None:
        self.client, self.sandbox, self.store = client, sandbox, sandbox.sandbox.store()

    async def __call__(self, name: str, args: dict[str, Any]) -> Any:
        confirm = {"confirm": True} if name in DESTRUCTIVE else {}
        result = await self.client.call_tool(name, {**args, **confirm})
        assert not result.is_error, f"{name}: {text_of(result)}"
        return result.structured_content

    # handy seeded objects
    def lead_with_contacts(self, n: int = 1) -> str:
        return next(lid for lid in self.store.leads if len(self.store.children_of(lid)["contacts"]) >= n)

    def lead_with_activities(self, *types: str) -> str:
        return next(
            lid
            for lid in self.store.leads
            if {a["_type"] for a in self.store.children_of(lid)["activities"]} >= set(types)
        )


@dataclass
class Case:
    run: Callable[[Call], Awaitable[None]]
    writes: bool


CASES: dict[str, Case] = {}


def case(tool: str, *, writes: bool = True) -> Callable[[Callable[[Call], Awaitable[None]]], Any]:
    def register(fn: Callable[[Call], Awaitable[None]]) -> Callable[[Call], Awaitable[None]]:
        assert tool not in CASES, f"two cases for {tool}"
        CASES[tool] = Case(fn, writes)
        return fn

    return register


def example(tool: str, arg: str) -> Any:
    spec = next(s for s in SPECS if s.name == tool)
    return spec.input_schema["properties"][arg]["examples"][0]
