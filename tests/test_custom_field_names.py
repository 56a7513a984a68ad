"""Custom fields by name, both ways: results show custom.<Name>, writes take names, and a name or
choice that does not exist is an error naming the closest valid ones (never a silent no-op)."""

from __future__ import annotations

import pytest
from conftest import connect, payload, text_of

pytestmark = pytest.mark.anyio


def _industry(store) -> tuple[str, dict]:
    return next((cid, cf) for cid, cf in store.custom_fields["lead"].items() if cf["name"] == "Industry")


async def test_results_name_custom_fields(shared_sandbox):
    store = shared_sandbox.sandbox.store()
    cid, _ = _industry(store)
    lead_id = next(lid for lid, lead in store.leads.items() if lead.get(f"custom.{cid}"))
    async with connect(shared_sandbox) as client:
        lead = payload(await client.call_tool("get_lead", {"lead_id": lead_id}))
        page = payload(await client.call_tool("list_leads", {"fields": ["id", "custom"], "limit": 50}))
    assert lead["custom.Industry"] == store.leads[lead_id][f"custom.{cid}"] and f"custom.{cid}" not in lead
    assert any("custom.Industry" in item for item in page["items"])
    assert not any(k.startswith("custom.cf_") for item in page["items"] for k in item)


async def test_writes_take_names_and_ids(sandbox):
    store = sandbox.sandbox.store()
    cid, cf = _industry(store)
    lead_id = next(iter(store.leads))
    choice = cf["choices"][1]  # the seed's Industry is a choices field
    async with connect(sandbox) as client:
        by_name = await client.call_tool("update_lead", {"lead_id": lead_id, "custom": {"industry": choice}})
        assert not by_name.is_error, text_of(by_name)
        assert store.leads[lead_id][f"custom.{cid}"] == choice
        dry = await client.call_tool(
            "update_lead", {"lead_id": lead_id, "custom": {"Industry": choice}, "dry_run": True}
        )
        assert payload(dry)["request"]["body"] == {f"custom.{cid}": choice}


async def test_unknown_names_and_choices_name_the_closest(sandbox):
    store = sandbox.sandbox.store()
    _, cf = _industry(store)
    lead_id = next(iter(store.leads))
    before = len(sandbox.sandbox.stats.requests)
    async with connect(sandbox) as client:
        typo = await client.call_tool("update_lead", {"lead_id": lead_id, "custom": {"Industsry": "x"}})
        assert typo.is_error and "no custom field named 'Industsry'; did you mean 'Industry'?" in text_of(
            typo
        )
        wrong = cf["choices"][0][:-1]  # "Softwar"
        bad = await client.call_tool("update_lead", {"lead_id": lead_id, "custom": {"Industry": wrong}})
        assert bad.is_error and f"did you mean {cf['choices'][0]!r}" in text_of(bad)
    writes = [r for r in list(sandbox.sandbox.stats.requests)[before:] if r["method"] != "GET"]
    assert writes == []  # only the schema was read; nothing was written


async def test_a_new_field_is_usable_by_name_at_once(sandbox):
    lead_id = next(iter(sandbox.sandbox.store().leads))
    async with connect(sandbox) as client:
        await client.call_tool(
            "update_lead", {"lead_id": lead_id, "custom": {"Industry": None}}
        )  # caches the schema
        made = await client.call_tool(
            "create_lead_custom_field", {"name": "Renewal", "type": "text", "confirm": True}
        )
        assert not made.is_error, text_of(made)
        used = await client.call_tool("update_lead", {"lead_id": lead_id, "custom": {"Renewal": "Q3"}})
        assert not used.is_error, text_of(used)
        shown = payload(await client.call_tool("get_lead", {"lead_id": lead_id}))
    assert shown["custom.Renewal"] == "Q3"
