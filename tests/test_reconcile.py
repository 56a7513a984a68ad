"""Reconciliation of ambiguous writes through a real MCP session: not done, done after a stall,
undecided with the check to make, and the manifest loader's checks of the declarations."""

from __future__ import annotations

import json

import pytest
from conftest import connect, payload, settings_for_tests, text_of

from close_mcp.manifest import ManifestError, load_manifests
from close_mcp.reconcile import contains
from close_mcp.sandbox import FaultRule
from close_mcp.tool_handlers import OUTCOME_META

pytestmark = pytest.mark.anyio


def outcome(result) -> str:
    return (result.meta or {}).get(OUTCOME_META)


def notes_of(store, lead_id: str, text: str) -> list[dict]:
    return [a for a in store.activities.values() if a.get("lead_id") == lead_id and a.get("note") == text]


async def test_a_500_before_the_write_is_not_done_and_safe_to_retry(sandbox, mcp):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    sandbox.sandbox.faults.add(FaultRule("status", path="/activity/note/", method="POST", status=502))
    result = await mcp.call_tool("create_note", {"lead_id": lead_id, "note": "marker-502"})
    assert result.is_error and outcome(result) == "error:WriteNotDone"
    assert "Not done" in text_of(result) and "safe to call create_note again" in text_of(result)
    assert notes_of(store, lead_id, "marker-502") == []
    again = await mcp.call_tool("create_note", {"lead_id": lead_id, "note": "marker-502"})
    assert not again.is_error and len(notes_of(store, lead_id, "marker-502")) == 1


async def test_a_timed_out_write_that_lands_later_is_found(sandbox):
    """Close stalls longer than the HTTP timeout, then applies the write: a first look misses it,
    a later look (Close may still be working after a timeout) finds it."""
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    sandbox.sandbox.faults.add(FaultRule("latency", path="/activity/note/", method="POST", delay=1.5))
    settings = settings_for_tests(sandbox=True, http_timeout=0.5)
    async with connect(sandbox, settings=settings) as client:
        result = await client.call_tool("create_note", {"lead_id": lead_id, "note": "marker-stall"})
    assert not result.is_error and outcome(result) == "ok:reconciled", text_of(result)
    made = notes_of(store, lead_id, "marker-stall")
    assert [n["id"] for n in made] == [payload(result)["id"]]
    assert "Done:" in payload(result)["notice"] and "Do not repeat it" in text_of(result)


async def test_when_checking_fails_too_the_answer_says_what_to_check(sandbox, mcp):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    sandbox.sandbox.faults.add(FaultRule("drop_after", path="/activity/note/", method="POST"))
    sandbox.sandbox.faults.add(FaultRule("status", path="/activity/note/", method="GET", status=500))
    result = await mcp.call_tool("create_note", {"lead_id": lead_id, "note": "marker-undecided"})
    assert result.is_error and outcome(result) == "error:WriteUndecided"
    text = text_of(result)
    assert "could not tell" in text and "list_activities with lead_id" in text and "duplicate" in text


async def test_an_update_that_did_not_apply_is_not_done(sandbox, mcp):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    before = store.leads[lead_id]["name"]
    sandbox.sandbox.faults.add(FaultRule("status", path=f"/lead/{lead_id}/", method="PUT", status=500))
    result = await mcp.call_tool("update_lead", {"lead_id": lead_id, "name": "Renamed Co"})
    assert result.is_error and outcome(result) == "error:WriteNotDone", text_of(result)
    assert f"reading /lead/{lead_id}/" in text_of(result) and store.leads[lead_id]["name"] == before


async def test_a_create_without_identifying_fields_is_undecided(sandbox, mcp):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    sandbox.sandbox.faults.add(FaultRule("status", path="/activity/note/", method="POST", status=500))
    result = await mcp.call_tool("create_note", {"lead_id": lead_id, "note_html": "<p>x</p>"})
    assert result.is_error and outcome(result) == "error:WriteUndecided"
    assert "none of the fields that identify" in text_of(result)


def test_sent_values_are_contained_in_what_close_keeps():
    assert contains({"a": [{"email": "X@Y.com"}]}, {"a": [{"email": "x@y.com", "type": "office"}], "b": 1})
    assert contains(3, 3.0) and not contains(True, 1) and not contains("a", "b")
    assert not contains({"a": 1}, {"b": 1}) and not contains([1], 1)


def test_declarations_name_real_arguments(tmp_path):
    tool = {
        "name": "create_thing",
        "title": "Create a thing",
        "description": "Creates a thing in the test manifest, for the loader's checks.",
        "method": "POST",
        "path": "/thing/",
        "access": "write",
        "pagination": "none",
        "arguments": {"name": {"in": "body", "schema": {"type": "string"}}},
        "reconcile": {"find": "/thing/", "params": {"parent": "{parent_id}"}, "match": ["nmae"]},
    }
    manifest = {
        "schema_version": 1,
        "toolset": "things",
        "title": "Things",
        "description": "Test manifest.",
        "tools": [tool],
    }
    (tmp_path / "things.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError) as err:
        load_manifests(tmp_path, shipped=False)
    assert "unknown argument 'nmae'" in str(err.value) and "unknown argument 'parent_id'" in str(err.value)
