"""End-to-end cases for the users_org tools."""

from __future__ import annotations

from e2e_cases.registry import Call, case, revoked_key


# ----- users and the organization ---------------------------------------------------------------
@case("get_current_user", writes=False)
async def _(call: Call) -> None:
    me = await call("get_current_user", {})
    assert me["organizations"][0]["id"] == call.store.org["id"] and me["id"] in call.store.users


@case("list_users", writes=False)
async def _(call: Call) -> None:
    page = await call("list_users", {"order_by": "last_name,first_name"})
    users = sorted(call.store.users.values(), key=lambda u: (u["last_name"], u["first_name"]))
    assert [u["id"] for u in page["items"]] == [u["id"] for u in users] and len(users) == 4


@case("get_user", writes=False)
async def _(call: Call) -> None:
    user_id = list(call.store.users)[1]
    assert (await call("get_user", {"user_id": user_id}))["id"] == user_id


@case("get_organization", writes=False)
async def _(call: Call) -> None:
    org = await call("get_organization", {"organization_id": call.store.org["id"]})
    assert len(org["pipelines"]) == len(call.store.pipelines) == 2


@case("update_organization")
async def _(call: Call) -> None:
    await call("update_organization", {"organization_id": call.store.org["id"], "name": "Acme Renamed"})
    assert call.store.org["name"] == "Acme Renamed"


@case("list_lead_statuses", writes=False)
async def _(call: Call) -> None:
    page = await call("list_lead_statuses", {})
    assert [s["label"] for s in page["items"]] == [s["label"] for s in call.store.lead_statuses.values()]
    assert page["count"] == 5


@case("list_pipelines", writes=False)
async def _(call: Call) -> None:
    page = await call("list_pipelines", {})
    assert {p["id"] for p in page["items"]} == set(call.store.pipelines) and page["count"] == 2


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
revoked_key("get_current_user", "list_lead_statuses", "list_pipelines", "list_users")
