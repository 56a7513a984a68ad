"""Search that never lies and names in place of IDs: every status, pipeline, user, custom field and
choice an agent names is checked before anything is sent; a typo is an error naming the closest valid
values, never 0 results; a status name never moves a deal to another pipeline silently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import connect, payload, text_of

pytestmark = pytest.mark.anyio


async def walk(client: Any, tool: str, args: dict[str, Any]) -> tuple[list[str], int]:
    """Every ID a search returns, page after page (pages cut to the output budget included)."""
    ids: list[str] = []
    page = payload(await client.call_tool(tool, args))
    calls = 1
    while True:
        ids += [item["id"] for item in page["items"]]
        if not page["has_more"]:
            return ids, calls
        assert calls < 50
        nxt = {**args, "search_cursor": page["search_cursor"]}
        page = payload(await client.call_tool(tool, nxt))
        calls += 1


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        (
            "search_leads",
            {"status": "Qualifed"},
            "`status`: no lead status named 'Qualifed'; did you mean 'Qualified'?",
        ),
        (
            "search_leads",
            {"custom": {"Industri": "Software"}},
            "no custom field named 'Industri'; did you mean 'Industry'?",
        ),
        ("search_leads", {"custom": {"Industry": "Sofware"}}, "named 'Sofware'; did you mean 'Software'?"),
        (
            "search_opportunities",
            {"status": "Wonn"},
            "no opportunity status named 'Wonn'; did you mean 'Won'?",
        ),
        ("search_opportunities", {"pipeline": "Sale"}, "no pipeline named 'Sale'; did you mean 'Sales'?"),
        ("search_opportunities", {"owner": "Dna"}, "no user named 'Dna'; did you mean 'Dana Whitfield'?"),
        ("search_leads", {"sort": "-created", "custom": {"Employees": "many"}}, "'Employees' is a number"),
        (
            "list_leads",
            {"query": 'status:"Qualifed"'},
            "`query`: no lead status named 'Qualifed'; did you mean 'Qualified'?",
        ),
        ("list_leads", {"query": "acme custom.Industri:Software"}, "no custom field named 'Industri'"),
        ("list_leads", {"query": '"custom.Lead Source":Webste'}, "did you mean 'Website'?"),
    ],
)
async def test_a_name_that_does_not_exist_is_an_error_naming_the_closest(
    shared_sandbox: Any, tool: str, args: dict[str, Any], expected: str
) -> None:
    before = len(shared_sandbox.sandbox.stats.requests)
    async with connect(shared_sandbox) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error and expected in text_of(result), text_of(result)
    assert "Valid:" in text_of(result) or "number" in text_of(result)
    sent = [
        r
        for r in list(shared_sandbox.sandbox.stats.requests)[before:]
        if r["path"] in ("/lead/", "/data/search/")
    ]
    assert sent == []  # only the schema lists were read


async def test_valid_names_search_exactly_in_one_call(shared_sandbox: Any) -> None:
    store = shared_sandbox.sandbox.store()
    source = next(c for c, cf in store.custom_fields["lead"].items() if cf["name"] == "Lead Source")
    employees = next(c for c, cf in store.custom_fields["lead"].items() if cf["name"] == "Employees")
    labels = {s: v["label"] for s, v in store.lead_statuses.items()}
    expected = {
        i
        for i, lead in store.leads.items()
        if labels[lead["status_id"]] in ("Customer", "Churned")
        and lead.get(f"custom.{source}") in ("Website", "Referral")
        and (lead.get(f"custom.{employees}") or 0) >= 100
    }
    args = {
        "status": ["customer", "Churned"],
        "custom": {"lead source": ["website", "Referral"], "Employees": {"gte": 100}},
        "page_size": 200,
    }
    async with connect(shared_sandbox) as client:
        found = payload(await client.call_tool("search_leads", args))
        page = payload(await client.call_tool("search_leads", {**args, "page_size": 2}))
        rest = payload(
            await client.call_tool(
                "search_leads", {**args, "page_size": 200, "search_cursor": page["search_cursor"]}
            )
        )
    assert {i["id"] for i in found["items"]} == expected and len(expected) > 2
    assert found["total_results"] == len(expected) and page["total_results"] == len(expected)
    assert {i["id"] for i in page["items"] + rest["items"]} == expected and page["has_more"]
    async with connect(shared_sandbox) as client:
        other = await client.call_tool(
            "search_leads", {"status": "Customer", "search_cursor": page["search_cursor"]}
        )
        forged = await client.call_tool("search_leads", {**args, "search_cursor": "bm90IG91cnM"})
    assert other.is_error and "belongs to a search with other arguments" in text_of(other)
    assert forged.is_error and "`search_cursor`: not a cursor this tool returned" in text_of(forged)
    assert all(not k.startswith("custom.cf_") for item in found["items"] for k in item)


async def test_related_and_date_terms_match_the_store(shared_sandbox: Any) -> None:
    store = shared_sandbox.sandbox.store()
    with_open_tasks = {
        lid for lid in store.leads if any(not t.get("is_complete") for t in store.children_of(lid)["tasks"])
    }
    async with connect(shared_sandbox) as client:
        has, calls = await walk(client, "search_leads", {"has_open_tasks": True, "page_size": 200})
        has_not = payload(await client.call_tool("search_leads", {"has_open_tasks": False, "page_size": 1}))
        later = payload(
            await client.call_tool("search_leads", {"created": {"after": "2999-01-01"}, "page_size": 1})
        )
    assert sorted(has) == sorted(with_open_tasks) and with_open_tasks and calls > 1  # no item twice
    assert has_not["total_results"] == len(store.leads) - len(with_open_tasks)
    statuses = store.opportunity_statuses()
    with_open_deals = {
        o["lead_id"] for o in store.opportunities.values() if statuses[o["status_id"]]["type"] == "active"
    }
    async with connect(shared_sandbox) as client:
        deals = await client.call_tool("search_leads", {"has_open_opportunities": True, "text": " "})
    assert payload(deals)["total_results"] == len(with_open_deals) and with_open_deals
    assert later["total_results"] == 0 and later["count"] == 0 and not later.get("items")


async def test_status_by_name_stays_in_the_deals_pipeline(sandbox: Any) -> None:
    store = sandbox.sandbox.store()
    statuses = store.opportunity_statuses()
    pipelines = {p["name"]: pid for pid, p in store.pipelines.items()}
    renewal = next(
        oid
        for oid, o in store.opportunities.items()
        if statuses[o["status_id"]]["pipeline_id"] == pipelines["Renewals"]
        and statuses[o["status_id"]]["type"] == "active"
    )
    sale = next(
        oid
        for oid, o in store.opportunities.items()
        if statuses[o["status_id"]]["pipeline_id"] == pipelines["Sales"]
        and statuses[o["status_id"]]["type"] == "active"
    )
    async with connect(sandbox) as client:
        refused = await client.call_tool("update_opportunity", {"opportunity_id": renewal, "status": "Won"})
        assert refused.is_error and "is not one of this object's pipeline_id" in text_of(refused)
        assert statuses[store.opportunities[renewal]["status_id"]]["pipeline_id"] == pipelines["Renewals"]
        renewed = await client.call_tool(
            "update_opportunity", {"opportunity_id": renewal, "status": "renewed"}
        )
        won = await client.call_tool("update_opportunity", {"opportunity_id": sale, "status": "Won"})
    assert not renewed.is_error and not won.is_error, text_of(won)
    assert statuses[store.opportunities[renewal]["status_id"]]["label"] == "Renewed"
    assert statuses[store.opportunities[sale]["status_id"]]["pipeline_id"] == pipelines["Sales"]
    assert statuses[store.opportunities[sale]["status_id"]]["label"] == "Won"
    changes = payload(won)["changes"]
    assert changes["fields"]["status_label"][1] == "Won" and "pipeline_id" not in changes["fields"]


async def test_ambiguous_names_list_the_candidates_and_new_names_resolve(sandbox: Any) -> None:
    store = sandbox.sandbox.store()
    statuses = store.opportunity_statuses()
    sales = next(p for p in store.pipelines.values() if p["name"] == "Sales")
    deal = next(
        o for o in store.opportunities.values() if statuses[o["status_id"]]["pipeline_id"] == sales["id"]
    )
    async with connect(sandbox) as client:
        await client.call_tool("search_leads", {"status": "Qualified"})  # the lists are cached now
        created = await client.call_tool("create_lead_status", {"label": "Nurture"})
        assert not created.is_error, text_of(created)
        nurture = await client.call_tool("search_leads", {"status": "nurture"})  # close-mcp's own write
        store.lead_statuses["stat_outside"] = {"id": "stat_outside", "label": "Dormant"}
        dormant = await client.call_tool("search_leads", {"status": "dormant"})  # made elsewhere: a miss
        won = next(s for s in statuses.values() if s["label"] == "Won")
        sales["statuses"].append({**won, "id": "stat_secondwon"})
        await client.call_tool("search_opportunities", {"status": "Nowhere"})  # a miss: lists read again
        twice = await client.call_tool("update_opportunity", {"opportunity_id": deal["id"], "status": "won"})
    assert not nurture.is_error and payload(nurture)["total_results"] == 0, text_of(nurture)
    assert not dormant.is_error, text_of(dormant)
    assert twice.is_error and "'won' is ambiguous" in text_of(twice), text_of(twice)
    assert won["id"] in text_of(twice) and "stat_secondwon" in text_of(twice)


async def test_outcomes_and_templates_by_name(sandbox: Any) -> None:
    store = sandbox.sandbox.store()
    call_id = next(a["id"] for a in store.activities.values() if a["_type"] == "Call")
    outcome = next(o for o in store.collection("outcomes").values() if o["name"] == "Wrong number")
    template = next(iter(store.collection("email_templates").values()))
    async with connect(sandbox) as client:
        done = await client.call_tool("update_call", {"call_id": call_id, "outcome": "wrong NUMBER"})
        typo = await client.call_tool("update_call", {"call_id": call_id, "outcome": "Wrong numbr"})
        dry = await client.call_tool(
            "send_bulk_email",
            {
                "template": template["name"],
                "s_query": {"type": "and", "queries": [{"type": "object_type", "object_type": "lead"}]},
                "dry_run": True,
            },
        )
    assert not done.is_error, text_of(done)
    assert store.activities[call_id]["outcome_id"] == outcome["id"]
    assert typo.is_error and "did you mean 'Wrong number'?" in text_of(typo)
    assert not dry.is_error, text_of(dry)
    assert payload(dry)["request"]["body"]["template_id"] == template["id"]


async def test_contacted_and_not_contacted_split_the_leads(shared_sandbox: Any) -> None:
    store = shared_sandbox.sandbox.store()
    since = (datetime.now(UTC) - timedelta(days=45)).date().isoformat()
    touched = {
        a["lead_id"]
        for a in store.activities.values()
        if a["_type"] in ("Call", "Email", "Meeting", "SMS") and str(a.get("activity_at") or "")[:10] >= since
    }
    async with connect(shared_sandbox) as client:
        contacted, _ = await walk(client, "search_leads", {"contacted": {"after": since}, "page_size": 200})
        silent = payload(
            await client.call_tool("search_leads", {"not_contacted": {"after": since}, "page_size": 1})
        )
    assert set(contacted) == touched and touched
    assert silent["total_results"] == len(store.leads) - len(touched)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"custom": {"Employees": {"gte": 10, "most": 5}}}, "a range for 'Employees' takes gt, gte, lt, lte"),
        ({"custom": {"Industry": {"gte": 1}}}, "'Industry' is choices: give a value or a list of values"),
        ({"custom": {"Employees": [10, "ten"]}}, "'Employees' is a number"),
        ({"created": {}}, "`created`: give after, before or last_days"),
        ({"status": ["Qualified", "Bad Fitt"], "sort": "-created"}, "no lead status named 'Bad Fitt'"),
    ],
)
async def test_ranges_and_values_fit_the_field(
    shared_sandbox: Any, args: dict[str, Any], expected: str
) -> None:
    async with connect(shared_sandbox) as client:
        result = await client.call_tool("search_leads", args)
    assert result.is_error and expected in text_of(result), text_of(result)


async def test_numbers_ranges_and_lists_match_the_store(shared_sandbox: Any) -> None:
    store = shared_sandbox.sandbox.store()
    employees = next(c for c, cf in store.custom_fields["lead"].items() if cf["name"] == "Employees")
    product = next(c for c, cf in store.custom_fields["opportunity"].items() if cf["name"] == "Product")
    small = {i for i, lead in store.leads.items() if lead.get(f"custom.{employees}") in (5, 12)}
    mid = {i for i, lead in store.leads.items() if 10 < (lead.get(f"custom.{employees}") or 0) <= 300}
    growth = {
        i for i, o in store.opportunities.items() if o.get(f"custom.{product}") in ("Growth", "Starter")
    }
    async with connect(shared_sandbox) as client:
        listed, _ = await walk(client, "search_leads", {"custom": {"employees": [5, 12]}, "page_size": 200})
        ranged, _ = await walk(client, "search_leads", {"custom": {"Employees": {"gt": 10, "lte": 300}}})
        deals, _ = await walk(client, "search_opportunities", {"custom": {"product": ["growth", "Starter"]}})
    assert set(listed) == small and small
    assert set(ranged) == mid and mid
    assert set(deals) == growth and growth
