"""End-to-end cases for the team tools (groups, roles, memberships, pinned views, availability)."""

from __future__ import annotations

from typing import Any

from conftest import SPECS, payload, settings_for_tests, text_of
from mcp import Client

from close_mcp.app import Upstream, open_local_app
from close_mcp.credentials import Credential
from e2e_cases.registry import BAD_REQUEST, FORBIDDEN, Call, case, close_error, gone, not_admin, revoked_key


def _groups(call: Call) -> dict[str, Any]:
    return call.store.collection("groups")


def _memberships(call: Call) -> dict[str, Any]:
    return call.store.collection("memberships")


def _member_of_role(call: Call, role: str) -> dict[str, Any]:
    return next(m for m in _memberships(call).values() if m["role_id"] == role)


def _custom_role(call: Call) -> str:
    return next(iter(call.store.collection("roles")))


# ----- groups ---------------------------------------------------------------------------------
@case("list_groups", writes=False)
async def _(call: Call) -> None:
    page = await call("list_groups", {})
    assert sorted(g["name"] for g in page["items"]) == sorted(g["name"] for g in _groups(call).values())
    assert len(page["items"]) == 3


@case("get_group", writes=False)
async def _(call: Call) -> None:
    group = next(g for g in _groups(call).values() if g["members"])
    got = await call("get_group", {"group_id": group["id"]})
    assert got["name"] == group["name"] and got["members"] == group["members"]


@case("create_group")
async def _(call: Call) -> None:
    created = await call("create_group", {"name": "Enterprise AEs"})
    assert _groups(call)[created["id"]] == {
        "id": created["id"],
        "name": "Enterprise AEs",
        "members": [],
        "organization_id": call.store.org["id"],
    }


@case("update_group")
async def _(call: Call) -> None:
    group_id = next(iter(_groups(call)))
    await call("update_group", {"group_id": group_id, "name": "Field Sales"})
    assert _groups(call)[group_id]["name"] == "Field Sales"


@case("delete_group")
async def _(call: Call) -> None:
    group_id = next(iter(_groups(call)))
    await call("delete_group", {"group_id": group_id})
    assert group_id not in _groups(call)


@case("add_group_member")
async def _(call: Call) -> None:
    group = next(g for g in _groups(call).values() if len(g["members"]) < len(call.store.users))
    outsider = next(u for u in call.store.users if {"user_id": u} not in group["members"])
    assert (await call("add_group_member", {"group_id": group["id"], "user_id": outsider})) == {
        "user_id": outsider
    }
    assert group["members"][-1] == {"user_id": outsider}


@case("remove_group_member")
async def _(call: Call) -> None:
    group = next(g for g in _groups(call).values() if g["members"])
    gone = group["members"][0]["user_id"]
    await call("remove_group_member", {"group_id": group["id"], "user_id": gone})
    assert {"user_id": gone} not in _groups(call)[group["id"]]["members"]


# ----- roles ----------------------------------------------------------------------------------
@case("list_roles", writes=False)
async def _(call: Call) -> None:
    ids = [r["id"] for r in (await call("list_roles", {}))["items"]]
    assert ids == ["admin", "superuser", "user", "restricteduser", *call.store.collection("roles")]


@case("get_role", writes=False)
async def _(call: Call) -> None:
    role = next(iter(call.store.collection("roles").values()))
    got = await call("get_role", {"role_id": role["id"]})
    assert got["name"] == role["name"] and got["permissions"] == role["permissions"] and got["editable"]


@case("create_role")
async def _(call: Call) -> None:
    role = await call("create_role", {"name": "Closer", "permissions": ["export", "view_all_leads"]})
    stored = call.store.collection("roles")[role["id"]]
    assert stored["name"] == "Closer" and stored["permissions"] == ["export", "view_all_leads"]
    assert role["id"].startswith("role_") and stored["editable"] is True


@case("update_role")
async def _(call: Call) -> None:
    role_id = _custom_role(call)
    await call("update_role", {"role_id": role_id, "name": "Renamed", "permissions": ["export"]})
    stored = call.store.collection("roles")[role_id]
    assert (stored["name"], stored["permissions"]) == ("Renamed", ["export"])


@case("delete_role")
async def _(call: Call) -> None:
    role_id = _custom_role(call)
    await call("delete_role", {"role_id": role_id})
    assert role_id not in call.store.collection("roles")


# ----- memberships ----------------------------------------------------------------------------
@case("create_membership")
async def _(call: Call) -> None:
    """An API key gets Close's 403 (OAuth only); over OAuth the person joins with the role."""
    refused = await call.client.call_tool(
        "create_membership", {"email": "new.rep@example.com", "role_id": "user", "confirm": True}
    )
    assert refused.is_error and "403" in text_of(refused)
    settings = settings_for_tests(sandbox=True)
    upstream = Upstream(call.sandbox.base_url, Credential(call.sandbox.api_key + "_oauth", "oauth"))
    async with (
        open_local_app(settings, upstream, specs=SPECS) as app,
        Client(app.server, mode="legacy") as oauth,
    ):
        result = await oauth.call_tool(
            "create_membership", {"email": "new.rep@example.com", "role_id": "user", "confirm": True}
        )
    assert not result.is_error, text_of(result)
    membership = _memberships(call)[payload(result)["id"]]
    user = call.store.users[membership["user_id"]]
    assert user["email"] == "new.rep@example.com" and membership["role_id"] == user["role_id"] == "user"


@case("update_membership")
async def _(call: Call) -> None:
    member = _member_of_role(call, "restricteduser")
    await call(
        "update_membership",
        {"membership_id": member["id"], "role_id": "user", "auto_record_calls": "enabled"},
    )
    assert (member["role_id"], member["auto_record_calls"]) == ("user", "enabled")
    assert call.store.users[member["user_id"]]["role_id"] == "user"  # what permission checks read


@case("bulk_update_memberships")
async def _(call: Call) -> None:
    targets = [m["id"] for m in _memberships(call).values() if m["role_id"] != "admin"]
    others = {m["id"]: m["auto_record_calls"] for m in _memberships(call).values() if m["id"] not in targets}
    await call("bulk_update_memberships", {"ids": targets, "auto_record_calls": "disabled"})
    assert len(targets) == 3 and all(
        _memberships(call)[t]["auto_record_calls"] == "disabled" for t in targets
    )
    assert (
        {i: _memberships(call)[i]["auto_record_calls"] for i in others}
        == others
        == {i: "unset" for i in others}
    )


@case("delete_membership")
async def _(call: Call) -> None:
    member = _member_of_role(call, "restricteduser")
    await call("delete_membership", {"membership_id": member["id"]})
    assert member["id"] not in _memberships(call)
    assert member["user_id"] in call.store.users  # the person's records stay


@case("get_pinned_views", writes=False)
async def _(call: Call) -> None:
    member = _member_of_role(call, "admin")
    got = await call("get_pinned_views", {"membership_id": member["id"]})
    assert got["saved_view_ids"] == member["pinned_view_ids"] and len(got["saved_view_ids"]) == 2


@case("set_pinned_views")
async def _(call: Call) -> None:
    member = _member_of_role(call, "user")
    views = list(call.store.collection("saved_searches"))[:2][::-1]  # seeded smart views, in a chosen order
    await call("set_pinned_views", {"membership_id": member["id"], "saved_view_ids": views})
    assert _memberships(call)[member["id"]]["pinned_view_ids"] == views


@case("list_user_availability", writes=False)
async def _(call: Call) -> None:
    result = await call("list_user_availability", {})
    entries = result["items"] if "items" in result else result["data"]
    assert {e["user_id"]: e["status"] for e in entries} == {
        m["user_id"]: m["availability"] for m in _memberships(call).values()
    }
    assert len(entries) == 4


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
close_error(
    "bulk_update_memberships",
    {"ids": [gone("memb")], "role_id": "user"},
    BAD_REQUEST,
    "Unknown membership IDs",
)
close_error(
    "create_group",
    lambda store: {"name": next(iter(store.collection("groups").values()))["name"]},
    BAD_REQUEST,
    "already exists",
)
close_error(  # an API key, not an OAuth app's token
    "create_membership", {"email": "new.rep@example.com", "role_id": "user"}, FORBIDDEN, "OAuth applications"
)
not_admin("create_role", {"name": "Account Manager"})
revoked_key("list_groups", "list_roles", "list_user_availability")
