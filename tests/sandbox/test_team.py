"""Team behaviour written by hand (areas/team.py, team_groups.py), over real HTTP: groups' default
fields and members, built-in roles, role deletion rules, memberships (OAuth-only create, role sync,
bulk update, pinned views) and Close's errors for each."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

pytestmark = pytest.mark.anyio


def _store(sandbox: Any) -> Any:
    return sandbox.sandbox.store()


def _membership(sandbox: Any, role: str) -> dict[str, Any]:
    return next(m for m in _store(sandbox).collection("memberships").values() if m["role_id"] == role)


async def _as(sandbox: Any, key: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(base_url=sandbox.base_url, auth=(key, ""))


# ----- groups ---------------------------------------------------------------------------------
async def test_group_name_and_members_only_with_fields_and_never_members_in_the_list(http, sandbox):
    group = next(g for g in _store(sandbox).collection("groups").values() if g["members"])
    plain = (await http.get(f"/group/{group['id']}/")).json()
    assert plain == {"id": group["id"], "organization_id": _store(sandbox).org["id"]}  # close-api.md §3.1
    full = (await http.get(f"/group/{group['id']}/", params={"_fields": "id,name,members"})).json()
    assert full == {"id": group["id"], "name": group["name"], "members": group["members"]}
    listed = (await http.get("/group/", params={"_fields": "id,name,members"})).json()["data"]
    assert all(set(g) == {"id", "name"} for g in listed) and len(listed) == 3


async def test_members_are_added_once_and_removed_idempotently(http, sandbox):
    created = await http.post("/group/", json={"name": "Night Shift"})
    assert created.status_code == 201
    gid, uid = created.json()["id"], next(iter(_store(sandbox).users))
    for _ in range(2):
        r = await http.post(f"/group/{gid}/member/", json={"user_id": uid})
        assert (r.status_code, r.json()) == (201, {"user_id": uid})
    assert _store(sandbox).collection("groups")[gid]["members"] == [{"user_id": uid}]
    for _ in range(2):
        r = await http.delete(f"/group/{gid}/member/{uid}/")
        assert (r.status_code, r.content) == (204, b"")
    assert _store(sandbox).collection("groups")[gid]["members"] == []


async def test_group_errors(http, sandbox):
    name = next(iter(_store(sandbox).collection("groups").values()))["name"]
    r = await http.post("/group/", json={"name": name.upper()})
    assert r.status_code == 400 and r.json()["field-errors"] == {
        "name": "A group with this name already exists."
    }
    gid = next(iter(_store(sandbox).collection("groups")))
    r = await http.post(f"/group/{gid}/member/", json={"user_id": "user_nope"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"user": "Object does not exist."}
    r = await http.get("/group/group_nope/")
    assert r.status_code == 404 and r.json() == {"error": "Empty query: Group matching query does not exist."}
    async with await _as(sandbox, sandbox.api_key + "_restricted") as restricted:
        assert (await restricted.post("/group/", json={"name": "Mine"})).status_code == 403


# ----- roles ----------------------------------------------------------------------------------
async def test_built_in_roles_are_plain_strings_and_cannot_change(http):
    roles = (await http.get("/role/")).json()["data"]
    assert [r["id"] for r in roles[:4]] == ["admin", "superuser", "user", "restricteduser"]
    assert all(r["editable"] is False for r in roles[:4]) and all(r["editable"] for r in roles[4:])
    r = await http.put("/role/admin/", json={"name": "Boss"})
    assert r.status_code == 400 and r.json()["errors"] == [
        "This role is maintained by Close and cannot be edited."
    ]
    assert (await http.delete("/role/user/")).status_code == 400


async def test_a_role_in_use_cannot_be_deleted_until_its_users_move(http, sandbox):
    role = (await http.post("/role/", json={"name": "Closer", "permissions": ["view_all_leads"]})).json()
    member = _membership(sandbox, "user")
    assert (await http.put(f"/membership/{member['id']}/", json={"role_id": role["id"]})).status_code == 200
    r = await http.delete(f"/role/{role['id']}/")
    assert r.status_code == 400 and "move them to another role first" in r.json()["errors"][0]
    await http.put(f"/membership/{member['id']}/", json={"role_id": "user"})
    assert (await http.delete(f"/role/{role['id']}/")).json() == {}
    assert (await http.get(f"/role/{role['id']}/")).status_code == 404


async def test_view_all_leads_roles_take_no_visibility_fields(http, sandbox):
    cf = next(iter(_store(sandbox).custom_fields["lead"]))
    body = {"name": "Odd", "permissions": ["view_all_leads"], "visibility_user_lcf_ids": [cf]}
    r = await http.post("/role/", json=body)
    assert r.status_code == 400 and "visibility_user_lcf_ids" in r.json()["field-errors"]
    r = await http.post(
        "/role/", json={**body, "permissions": ["export"], "visibility_user_lcf_behavior": "allow_unassigned"}
    )
    assert r.status_code == 201 and r.json()["visibility_user_lcf_ids"] == [cf]
    r = await http.post("/role/", json={"name": "Bad", "visibility_user_lcf_ids": ["cf_nope"]})
    assert r.status_code == 400


# ----- memberships ----------------------------------------------------------------------------
async def test_create_membership_is_oauth_only(http, sandbox):
    r = await http.post("/membership/", json={"email": "ann@example.com", "role_id": "user"})
    assert r.status_code == 403
    headers = {"authorization": f"Bearer {sandbox.api_key}_oauth"}
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=headers) as oauth:
        r = await oauth.post("/membership/", json={"email": "ann@example.com", "role_id": "superuser"})
        assert r.status_code == 200
        again = await oauth.post("/membership/", json={"email": "ANN@example.com", "role_id": "user"})
        assert again.json()["id"] == r.json()["id"]  # "ensures" one membership: no duplicate
        bad = await oauth.post("/membership/", json={"email": "x@example.com", "role_id": "king"})
        assert bad.status_code == 400 and "role_id" in bad.json()["field-errors"]
    user = _store(sandbox).users[r.json()["user_id"]]
    assert (user["email"], user["role_id"], user["membership_id"]) == (
        "ann@example.com",
        "superuser",
        r.json()["id"],
    )


async def test_a_role_change_is_what_permission_checks_see(http, sandbox):
    member = _membership(sandbox, "user")
    restricted_user = next(
        c for c in sandbox.sandbox.credentials.values() if c.secret.endswith("_restricted")
    )
    assert restricted_user.user_id == member["user_id"]
    async with await _as(sandbox, restricted_user.secret) as them:
        assert (await them.post("/role/", json={"name": "Nope"})).status_code == 403
        await http.put(f"/membership/{member['id']}/", json={"role_id": "admin"})
        assert (await them.post("/role/", json={"name": "Now I can"})).status_code == 201


async def test_bulk_update_needs_ids_and_changes_only_them(http, sandbox):
    r = await http.put("/membership/", json={"auto_record_calls": "enabled"})
    assert r.status_code == 400
    member = _membership(sandbox, "restricteduser")
    r = await http.put(
        "/membership/", json={"_params": {"id__in": member["id"]}, "auto_record_calls": "enabled"}
    )
    assert r.json() == {"ok": True}
    values = {m["id"]: m["auto_record_calls"] for m in _store(sandbox).collection("memberships").values()}
    assert values.pop(member["id"]) == "enabled" and set(values.values()) == {"unset"}
    r = await http.put("/membership/", json={"_params": {"id__in": "memb_nope"}, "role_id": "user"})
    assert r.status_code == 400


async def test_pinned_views_replace_the_whole_list(http, sandbox):
    member = _membership(sandbox, "admin")
    url = f"/membership/{member['id']}/pinned_views/"
    a, b = list(_store(sandbox).collection("saved_searches"))[:2]  # smart views seeded by the search area
    r = await http.put(url, json={"saved_view_ids": [b, a, b]})
    assert r.json() == {"saved_view_ids": [b, a]}
    assert (await http.get(url)).json() == {"saved_view_ids": [b, a]}
    r = await http.put(url, json={"saved_view_ids": ["lead_x"]})
    assert r.status_code == 400 and "saved_view_ids" in r.json()["field-errors"]
    assert (await http.get("/membership/memb_nope/pinned_views/")).json() == {
        "error": "Empty query: Membership matching query does not exist."
    }


async def test_removing_a_membership_keeps_the_user_and_not_yourself(http, sandbox):
    me = _membership(sandbox, "admin")
    r = await http.delete(f"/membership/{me['id']}/")
    assert r.status_code == 400
    other = _membership(sandbox, "restricteduser")
    assert (await http.delete(f"/membership/{other['id']}/")).json() == {}
    assert (
        other["id"] not in _store(sandbox).collection("memberships")
        and other["user_id"] in _store(sandbox).users
    )
    users = {e["user_id"] for e in (await http.get("/user/availability/")).json()["data"]}
    assert other["user_id"] not in users and len(users) == 3
