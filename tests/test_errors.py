"""What an agent reads when things go wrong: every error status and every kind of bad input."""

from __future__ import annotations

import pytest
from conftest import payload, text_of

from close_mcp.sandbox import FaultRule

pytestmark = pytest.mark.anyio


def _requests(sandbox) -> int:
    return len(sandbox.sandbox.stats.requests)


@pytest.mark.parametrize(
    "name,args,expected",
    [
        ("get_lead", {}, "missing required argument `lead_id`"),
        ("get_lead", {"lead_id": 42}, "`lead_id` must be of type string"),
        ("get_lead", {"lead_id": "lead_x", "verbose": True}, "unknown argument(s) `verbose`"),
        ("get_lead", {"lead_id": "../../me"}, "must be a Close ID starting with lead_"),
        ("get_lead", {"lead_id": "lead_abc/../../me"}, "must be a Close ID starting with lead_"),
        ("get_lead", {"lead_id": "lead_abc?x=1"}, "must be a Close ID"),
        ("get_lead", {"lead_id": "lead_abc#frag"}, "must be a Close ID"),
        ("get_lead", {"lead_id": "lead_a b"}, "must be a Close ID"),
        ("get_lead", {"lead_id": "cont_abcdef"}, "must be a Close ID starting with lead_"),
        ("create_opportunity", {"lead_id": "lead_x", "value": "2500"}, "`value` must be of type integer"),
        (
            "create_opportunity",
            {"lead_id": "lead_x", "confidence": 101},
            "101 is greater than the maximum of 100",
        ),
        ("list_tasks", {"view": "soon"}, '`view` must be one of "inbox", "future", "archive"'),
        ("list_leads", {"limit": 0}, "less than the minimum of 1"),
        ("list_leads", {"limit": 500}, "greater than the maximum of 200"),
        ("list_activities", {"type": ["Note"]}, "'lead_id' is a dependency of 'type'"),
        ("update_lead", {"lead_id": "lead_abc"}, "pass at least one of: name"),
        ("bulk_update_tasks", {"is_complete": True}, "pass at least one of: ids"),
        (
            "create_contact",
            {"lead_id": "lead_x", "name": "A", "emails": [{"email": "not-an-email"}]},
            "emails.0.email",
        ),
    ],
)
async def test_bad_input_names_the_argument_and_sends_nothing(mcp, sandbox, name, args, expected):
    before = _requests(sandbox)
    result = await mcp.call_tool(name, args)
    assert result.is_error
    assert expected in text_of(result), text_of(result)
    assert "Nothing was sent to Close" in text_of(result)
    assert _requests(sandbox) == before


async def test_unknown_tool_is_a_protocol_error(mcp):
    from mcp.shared.exceptions import MCPError

    with pytest.raises(MCPError, match="Unknown tool"):
        await mcp.call_tool("drop_database", {})


async def test_400_lists_close_field_errors(mcp, sandbox):
    lead_id = next(iter(sandbox.sandbox.store().leads))
    result = await mcp.call_tool(
        "create_task", {"lead_id": lead_id, "text": "x", "assigned_to": "user_doesnotexist"}
    )
    assert (
        result.is_error
        and "400 Bad Request" in text_of(result)
        and "assigned_to: Object does not exist" in text_of(result)
    )


async def test_401_says_key_invalid_without_echoing_it(mcp_connect):
    async with mcp_connect(key="sk_live_SECRET_do_not_leak") as client:
        result = await client.call_tool("get_current_user", {})
    assert result.is_error and "401" in text_of(result) and "CLOSE_API_KEY" in text_of(result)
    assert "SECRET" not in text_of(result)


async def test_403_permission(mcp_connect, sandbox):
    async with mcp_connect(key=f"{sandbox.api_key}_restricted") as client:
        result = await client.call_tool(
            "create_lead_custom_field", {"name": "X", "type": "text", "confirm": True}
        )
    assert result.is_error and "403 Forbidden" in text_of(result) and "admin" in text_of(result)


async def test_404_names_the_id(mcp):
    result = await mcp.call_tool("get_opportunity", {"opportunity_id": "oppo_gone123"})
    assert result.is_error and "opportunity_id=oppo_gone123" in text_of(result)


@pytest.mark.parametrize(
    "status,phrase", [(402, "plan"), (405, "bug in close-mcp"), (415, "bug in close-mcp")]
)
async def test_other_statuses(mcp, sandbox, status, phrase):
    sandbox.sandbox.faults.add(FaultRule("status", path="/me/", status=status))
    result = await mcp.call_tool("get_current_user", {})
    assert result.is_error and str(status) in text_of(result) and phrase in text_of(result)


async def test_500_on_write_is_checked_not_left_as_maybe(mcp, sandbox):
    sandbox.sandbox.faults.add(FaultRule("status", path="/lead/", method="POST", status=500))
    result = await mcp.call_tool("create_lead", {"name": "Maybe Co"})
    assert result.is_error and "Not done: Close answered 500 to POST /lead/" in text_of(result)
    assert "safe to call create_lead again" in text_of(result)


async def test_internal_bug_is_a_generic_tool_error(mcp, sandbox, monkeypatch):
    from close_mcp import executor

    def boom(*_a, **_k):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(executor, "fit_object", boom)
    result = await mcp.call_tool("get_current_user", {})
    assert (
        result.is_error
        and "Internal error" in text_of(result)
        and "secret internal detail" not in text_of(result)
    )


async def test_arguments_too_long_for_a_url_are_refused_naming_them(shared_sandbox):
    from conftest import connect

    before = len(shared_sandbox.sandbox.stats.requests)
    async with connect(shared_sandbox) as client:
        many = await client.call_tool("list_leads", {"fields": ["x" * 190] * 20})
        long_type = await client.call_tool("list_events", {"object_type": "lead" * 600})
    assert many.is_error and "`fields` is too long for a Close URL" in text_of(many)
    assert long_type.is_error and "object_type" in text_of(long_type)
    assert "Internal error" not in text_of(many) + text_of(long_type)
    assert len(shared_sandbox.sandbox.stats.requests) == before


async def test_dates_must_be_real_and_integral_floats_are_integers(sandbox):
    from conftest import connect

    lead_id = next(iter(sandbox.sandbox.store().leads))
    before = len(sandbox.sandbox.stats.requests)
    async with connect(sandbox) as client:
        bad = await client.call_tool("list_activities", {"lead_id": lead_id, "date_created_lt": "2026-13-45"})
        assert bad.is_error and "`date_created_lt` must be a real ISO-8601 date" in text_of(bad)
        assert len(sandbox.sandbox.stats.requests) == before
        ok = await client.call_tool(
            "list_activities", {"lead_id": lead_id, "date_created_lt": "2030-01-31T12:00:00Z"}
        )
        assert not ok.is_error
        two = await client.call_tool("list_leads", {"limit": 2.0})
    assert not two.is_error and payload(two)["count"] == 2
    assert sandbox.sandbox.stats.requests[-1]["query"]["_limit"] == "2"
