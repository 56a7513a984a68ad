"""Resources, prompts, completions and logging, on every transport, within the agent's policy."""

from __future__ import annotations

import json

import anyio
import mcp.types as types
import pytest
from conftest import SPECS, TRANSPORTS, connect, session_on, settings_for_tests
from mcp.shared.exceptions import MCPError

from close_mcp.app import build_policy
from close_mcp.sandbox import FaultRule

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_schema_and_object_resources(transport, shared_sandbox):
    store = shared_sandbox.sandbox.store()
    cid = next(c for c, cf in store.custom_fields["lead"].items() if cf["name"] == "Industry")
    lead_id = next(lid for lid, lead in store.leads.items() if lead.get(f"custom.{cid}"))
    async with session_on(transport, shared_sandbox) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        statuses = await client.read_resource("close://schema/lead-statuses")
        lead = await client.read_resource(f"close://lead/{lead_id}")
        with pytest.raises(MCPError, match="Unknown resource"):
            await client.read_resource("close://lead/../../me")
    assert {"close://schema/lead-statuses", "close://schema/pipelines", "close://users"} <= uris
    assert "close://lead/{lead_id}" in templates
    labels = [s["label"] for s in json.loads(statuses.contents[0].text)["data"]]
    assert labels == [s["label"] for s in store.lead_statuses.values()]
    body = json.loads(lead.contents[0].text)
    assert body["id"] == lead_id and body["custom.Industry"] == store.leads[lead_id][f"custom.{cid}"]


async def test_prompts_use_their_arguments(shared_sandbox):
    async with connect(shared_sandbox) as client:
        names = {p.name for p in (await client.list_prompts()).prompts}
        review = await client.get_prompt("pipeline_review", {"pipeline": "Renewals"})
        with pytest.raises(MCPError, match="needs: pipeline"):
            await client.get_prompt("pipeline_review", {})
    assert names == {"pipeline_review", "log_meeting", "clean_duplicates", "weekly_report", "find_leads"}
    assert "Renewals pipeline" in review.messages[0].content.text


async def test_completions_come_from_close(shared_sandbox):
    store = shared_sandbox.sandbox.store()
    ref = types.PromptReference(type="ref/prompt", name="pipeline_review")
    async with connect(shared_sandbox) as client:
        pipelines = await client.complete(ref, {"name": "pipeline", "value": ""})
        statuses = await client.complete(ref, {"name": "status", "value": "qu"})
        leads = await client.complete(ref, {"name": "lead_id", "value": "Logistics"})
    assert sorted(pipelines.completion.values) == sorted(p["name"] for p in store.pipelines.values())
    assert statuses.completion.values == [
        s["label"] for s in store.lead_statuses.values() if s["label"].lower().startswith("qu")
    ]
    assert leads.completion.values and all(
        v in store.leads and "Logistics" in store.leads[v]["name"] for v in leads.completion.values
    )


async def test_resources_follow_the_policy(shared_sandbox):
    settings = settings_for_tests(sandbox=True, toolsets=["tasks"])
    lead_id = next(iter(shared_sandbox.sandbox.store().leads))
    async with connect(shared_sandbox, settings=settings, policy=build_policy(settings, SPECS)) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        with pytest.raises(MCPError, match="not served by this server"):
            await client.read_resource(f"close://lead/{lead_id}")
    assert uris == set()  # no resource mirrors a tasks tool


async def test_log_level_brings_rate_limit_notices(sandbox):
    sandbox.sandbox.faults.add(FaultRule("rate_limit", path="/me/", reset=1))
    seen: list[str] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        seen.append(str(params.data))

    async with connect(sandbox, logging_callback=on_log) as client:
        await client.set_logging_level("info")
        result = await client.call_tool("get_current_user", {})
        with anyio.fail_after(5):
            while not seen:
                await anyio.sleep(0.02)
    assert not result.is_error and "get_current_user: Close rate limit: waiting" in seen[0]
