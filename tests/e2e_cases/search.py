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
revoked_key("list_smart_views")
