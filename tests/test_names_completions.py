"""Completions for the names tools take: status labels, custom-field names and their choices (narrowed
by the field already chosen), opportunity statuses, user names — read from Close, through an MCP client."""

from __future__ import annotations

from typing import Any

import mcp.types as types
import pytest
from conftest import connect

pytestmark = pytest.mark.anyio


async def test_custom_fields_choices_statuses_and_users_complete(shared_sandbox: Any) -> None:
    store = shared_sandbox.sandbox.store()
    ref = types.PromptReference(type="ref/prompt", name="find_leads")
    industry = next(cf for cf in store.custom_fields["lead"].values() if cf["name"] == "Industry")
    async with connect(shared_sandbox) as client:
        fields = await client.complete(ref, {"name": "custom_field", "value": "ind"})
        choices = await client.complete(
            ref, {"name": "choice", "value": "s"}, context_arguments={"custom_field": "industry"}
        )
        every = await client.complete(ref, {"name": "choice", "value": ""})
        statuses = await client.complete(ref, {"name": "opportunity_status", "value": "w"})
        users = await client.complete(ref, {"name": "user_name", "value": "ma"})
        prompt = await client.get_prompt(
            "find_leads", {"status": "Qualified", "custom_field": "Industry", "choice": "Software"}
        )
    assert fields.completion.values == ["Industry"]
    assert choices.completion.values == [c for c in industry["choices"] if c.lower().startswith("s")]
    assert set(industry["choices"]) <= set(every.completion.values) and len(every.completion.values) > len(
        industry["choices"]
    )  # without a field chosen: the choices of every field
    assert statuses.completion.values == ["Won"]
    assert users.completion.values == ["Marco Bellini"]
    assert "search_leads" in prompt.messages[0].content.text
