"""End-to-end cases for the search tools: Advanced Filtering and smart views."""

from __future__ import annotations

from typing import Any

from e2e_cases.registry import BAD_REQUEST, Call, case, close_error, example, gone, revoked_key


def _views(call: Call) -> dict:
    return call.store.collection("saved_searches")


def _status_tree(call: Call, label: str) -> dict[str, Any]:
    sid = next(s for s, v in call.store.lead_statuses.items() if v["label"] == label)
    return {
        "type": "and",
        "queries": [
            {"type": "object_type", "object_type": "lead"},
            {
                "type": "field_condition",
                "field": {"type": "regular_field", "object_type": "lead", "field_name": "status_id"},
                "condition": {"type": "reference", "reference_type": "status.lead", "object_ids": [sid]},
            },
        ],
    }


def _lead_ids_with_status(call: Call, label: str) -> set[str]:
    sid = next(s for s, v in call.store.lead_statuses.items() if v["label"] == label)
    return {i for i, lead in call.store.leads.items() if lead["status_id"] == sid}


@case("search_leads_and_contacts", writes=False)
async def _(call: Call) -> None:
    args = {"query": _status_tree(call, "Customer"), "page_size": 200, "include_counts": True}
    args["return_fields"] = {"lead": ["display_name"]}
    found = await call("search_leads_and_contacts", args)
    expected = _lead_ids_with_status(call, "Customer")
    assert {item["id"] for item in found["data"]} == expected and expected
    assert found.get("cursor") is None and found["count"]["total"] == len(expected)
    assert all(item["display_name"] == call.store.leads[item["id"]]["name"] for item in found["data"])


@case("list_smart_views", writes=False)
async def _(call: Call) -> None:
    page = await call("list_smart_views", {"type": "lead", "limit": 100})
    assert [v["name"] for v in page["items"]] == ["Qualified leads", "Software prospects"]


@case("get_smart_view", writes=False)
async def _(call: Call) -> None:
    vid, view = next(iter(_views(call).items()))
    got = await call("get_smart_view", {"saved_search_id": vid})
    assert got["name"] == view["name"] and got["s_query"] == view["s_query"]


@case("run_smart_view", writes=False)
async def _(call: Call) -> None:
    vid = next(i for i, v in _views(call).items() if v["name"] == "Qualified leads")
    query = {"type": "saved_search", "saved_search_id": vid}
    found = await call("run_smart_view", {"query": query, "page_size": 200})
    expected = _lead_ids_with_status(call, "Qualified")
    assert {item["id"] for item in found["data"]} == expected and expected
    assert {item["__object_type"] for item in found["data"]} == {"lead"}


@case("create_smart_view")
async def _(call: Call) -> None:
    name = example("create_smart_view", "name")
    tree = _status_tree(call, "Potential")
    view = await call("create_smart_view", {"name": name, "s_query": tree, "is_shared": True})
    stored = _views(call)[view["id"]]
    assert (stored["name"], stored["s_query"], stored["type"], stored["is_shared"]) == (
        name,
        tree,
        "lead",
        True,
    )


@case("update_smart_view")
async def _(call: Call) -> None:
    vid = next(iter(_views(call)))
    tree = _status_tree(call, "Bad Fit")
    await call("update_smart_view", {"saved_search_id": vid, "name": "Bad fits", "s_query": tree})
    assert (_views(call)[vid]["name"], _views(call)[vid]["s_query"]) == ("Bad fits", tree)


@case("delete_smart_view")
async def _(call: Call) -> None:
    vid = next(iter(_views(call)))
    await call("delete_smart_view", {"saved_search_id": vid})
    assert vid not in _views(call)


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
close_error(
    "create_smart_view",
    {"name": "Nothing", "s_query": {"type": "and", "queries": []}},
    BAD_REQUEST,
    "object_type clause",
)
close_error(
    "run_smart_view",
    {"query": {"type": "saved_search", "saved_search_id": gone("save")}},
    BAD_REQUEST,
    f"saved search '{gone('save')}' does not exist",
)
close_error(
    "search_leads_and_contacts", {"query": {"type": "and", "queries": []}}, BAD_REQUEST, "object_type clause"
)
revoked_key("list_smart_views", "search_leads", "search_contacts", "search_opportunities")


def _cf_id(call: Call, kind: str, name: str) -> str:
    return next(cid for cid, cf in call.store.custom_fields[kind].items() if cf["name"] == name)


@case("search_leads", writes=False)
async def _(call: Call) -> None:
    qualified = _lead_ids_with_status(call, "Qualified")
    industry = _cf_id(call, "lead", "Industry")
    expected = {i for i in qualified if call.store.leads[i].get(f"custom.{industry}") == "Software"}
    args = {"status": "qualified", "custom": {"industry": "software"}, "page_size": 200}
    found = await call("search_leads", args)
    assert {item["id"] for item in found["items"]} == expected and expected
    assert found["total_results"] == len(expected) and not found["has_more"]
    assert all(
        item["custom.Industry"] == "Software" and item["status_label"] == "Qualified"
        for item in found["items"]
    )


@case("search_contacts", writes=False)
async def _(call: Call) -> None:
    contact = next(iter(call.store.contacts.values()))
    first = contact["name"].split()[0]
    expected = {i for i, c in call.store.contacts.items() if first.casefold() in c["name"].casefold().split()}
    found = await call("search_contacts", {"text": first, "page_size": 200})
    assert expected <= {item["id"] for item in found["items"]} and contact["id"] in expected
    assert found["total_results"] == len(found["items"])


@case("search_opportunities", writes=False)
async def _(call: Call) -> None:
    statuses = call.store.opportunity_statuses()
    pipelines = {p["name"]: pid for pid, p in call.store.collection("pipelines").items()}
    won_sales = {
        oid
        for oid, o in call.store.opportunities.items()
        if statuses[o["status_id"]]["label"] == "Won"
        and statuses[o["status_id"]]["pipeline_id"] == pipelines["Sales"]
    }
    found = await call(
        "search_opportunities", {"status": "Won", "pipeline": "Sales", "sort": "-value", "page_size": 200}
    )
    assert {item["id"] for item in found["items"]} == won_sales and won_sales
    values = [call.store.opportunities[item["id"]]["value"] for item in found["items"]]
    assert values == sorted(values, reverse=True)
    assert all(item["pipeline_name"] == "Sales" for item in found["items"])
