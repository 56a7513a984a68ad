"""The end-to-end case registry: ``@case(tool)`` registers how to exercise one tool against the sandbox,
``close_error(tool, …)`` one Close error it meets (tools with a path ID also meet the automatic 404).

One module per Close area in this package (the same areas as ``tool_manifests/``) holds its cases;
``tests/test_tools_e2e.py`` runs them all, one test per tool and one per declared error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from conftest import SPECS, payload, text_of

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
        return payload(result)

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


# ----- one Close error per tool ---------------------------------------------------------------
MISSING = "doesnotexist0000000000"
BAD_REQUEST, FORBIDDEN, UNAUTHORIZED, NOT_FOUND = (
    "400 Bad Request",
    "403 Forbidden",
    "401 Unauthorized",
    "Not found (404)",
)
AS_ADMIN, AS_RESTRICTED, AS_REVOKED = "", "_restricted", "_revoked"  # suffixes of the sandbox's API key


def gone(prefix: str) -> str:
    """A well-formed ID of an object that does not exist (``lead_doesnotexist…``)."""
    return f"{prefix}_{MISSING}"


Args = Mapping[str, Any] | Callable[[Any], dict[str, Any]]  # or a function of the seeded store


@dataclass(frozen=True)
class CloseError:
    """One call Close (the sandbox) refuses: its arguments, the key it is made with (``AS_RESTRICTED``:
    a non-admin user of the organization; ``AS_REVOKED``: a key Close does not know) and the phrases
    the tool's error text must contain: the status and what to fix."""

    args: Args
    expect: tuple[str, ...]
    key: str = AS_ADMIN

    def arguments(self, store: Any) -> dict[str, Any]:
        return self.args(store) if callable(self.args) else dict(self.args)


ERRORS: dict[str, CloseError] = {}


def close_error(tool: str, args: Args, *expect: str, key: str = AS_ADMIN) -> None:
    assert tool not in ERRORS, f"two Close errors for {tool}"
    assert expect, f"{tool}: say what the error text must contain"
    ERRORS[tool] = CloseError(args, expect, key)


def unknown_ref(tool: str, field: str, args: Args) -> None:
    """A create or filter naming an object that does not exist: Close's 400 names the field."""
    close_error(tool, args, BAD_REQUEST, f"{field}: Object does not exist")


def not_admin(tool: str, args: Args) -> None:
    """An organization-wide change by a user who may not manage the organization: 403."""
    close_error(tool, args, FORBIDDEN, "admin", key=AS_RESTRICTED)


def revoked_key(*tools: str, args: Args | None = None) -> None:
    """For calls whose every argument Close accepts (a list without filters Close could refuse): the
    one Close error they meet is a key Close no longer accepts (401), and the text says to set another."""
    for tool in tools:
        close_error(tool, args or {}, UNAUTHORIZED, "CLOSE_API_KEY", key=AS_REVOKED)
