"""``idempotency_key`` through real MCP sessions: a repeat returns the first object and writes nothing,
concurrent repeats wait for the first, other arguments with the same key are refused, a failed first
call lets the repeat write."""

from __future__ import annotations

import anyio
import pytest
from conftest import SPECS, connect, payload, text_of

from close_mcp.sandbox import FaultRule, SandboxConfig, run_sandbox
from close_mcp.shared_store import MemoryStore
from close_mcp.tool_handlers import OUTCOME_META

pytestmark = pytest.mark.anyio


def outcome(result) -> str:
    return (result.meta or {}).get(OUTCOME_META)


def notes(store, text: str) -> list[dict]:
    return [a for a in store.activities.values() if a.get("note") == text]


def test_every_create_takes_the_key_and_nothing_else_does():
    for spec in SPECS:
        takes = "idempotency_key" in spec.input_schema["properties"]
        assert takes == (spec.method == "POST" and spec.access != "read"), spec.name


async def test_a_repeat_returns_the_first_object(sandbox, mcp):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    args = {"lead_id": lead_id, "note": "idem-once", "idempotency_key": "k-1"}
    first = await mcp.call_tool("create_note", args)
    again = await mcp.call_tool("create_note", args)
    assert not first.is_error and not again.is_error and outcome(again) == "ok:replayed"
    assert payload(again)["id"] == payload(first)["id"]
    assert "nothing was written again" in payload(again)["notice"]
    assert [n["id"] for n in notes(store, "idem-once")] == [payload(first)["id"]]
    assert sandbox.sandbox.stats.count("POST", "/activity/note/") == 1


async def test_concurrent_repeats_wait_for_the_first(sandbox, mcp):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    sandbox.sandbox.faults.add(FaultRule("latency", path="/activity/note/", method="POST", delay=0.3))
    args = {"lead_id": lead_id, "note": "idem-concurrent", "idempotency_key": "k-2"}
    results: list = []

    async def one() -> None:
        results.append(await mcp.call_tool("create_note", args))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(one)
    assert len({payload(r)["id"] for r in results}) == 1
    assert sorted(outcome(r) for r in results) == ["ok"] + ["ok:replayed"] * 7
    assert len(notes(store, "idem-concurrent")) == 1


async def test_the_same_key_with_other_arguments_is_refused(sandbox, mcp):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    await mcp.call_tool("create_note", {"lead_id": lead_id, "note": "idem-a", "idempotency_key": "k-3"})
    other = await mcp.call_tool(
        "create_note", {"lead_id": lead_id, "note": "idem-b", "idempotency_key": "k-3"}
    )
    assert other.is_error and outcome(other) == "invalid"
    assert "`idempotency_key`" in text_of(other) and "different arguments" in text_of(other)
    assert notes(store, "idem-b") == []


async def test_a_failed_first_call_lets_the_repeat_write(sandbox, mcp):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    sandbox.sandbox.faults.add(FaultRule("status", path="/activity/note/", method="POST", status=503))
    args = {"lead_id": lead_id, "note": "idem-retry", "idempotency_key": "k-4"}
    failed = await mcp.call_tool("create_note", args)
    assert failed.is_error and outcome(failed) == "error:WriteNotDone"
    again = await mcp.call_tool("create_note", args)
    assert not again.is_error and outcome(again) == "ok"
    assert len(notes(store, "idem-retry")) == 1


async def test_keys_are_kept_per_credential():
    """The same key from two organizations' credentials, on one shared store, is two writes."""
    store = MemoryStore()
    async with run_sandbox(SandboxConfig(organizations=2, leads=3)) as sandbox:
        outcomes = []
        for org in (0, 1):
            lead_id = next(iter(sandbox.sandbox.store(org).leads))
            async with connect(sandbox, key=sandbox.sandbox.key_for_org(org), store=store) as client:
                args = {"lead_id": lead_id, "note": "idem-org", "idempotency_key": "k-5"}
                outcomes.append(outcome(await client.call_tool("create_note", args)))
        assert outcomes == ["ok", "ok"]
        assert [len(notes(sandbox.sandbox.store(org), "idem-org")) for org in (0, 1)] == [1, 1]
