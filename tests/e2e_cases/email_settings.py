"""End-to-end cases for the email_settings tools (connected accounts, Send As, unsubscribes)."""

from __future__ import annotations

from e2e_cases.registry import BAD_REQUEST, Call, case, close_error, gone, revoked_key, unknown_ref


def _grants(call: Call) -> dict:
    return call.store.collection("send_as")


def _unsubscribed(call: Call) -> dict:
    return call.store.collection("unsubscribed_emails")


def _users(call: Call) -> list[str]:
    return list(call.store.users)  # the first one is the demo key's (admin) user


# ----- connected accounts ---------------------------------------------------------------------
@case("list_connected_accounts", writes=False)
async def _(call: Call) -> None:
    user_id = _users(call)[1]
    page = await call("list_connected_accounts", {"user_id": user_id})
    expected = [
        a["id"] for a in call.store.collection("connected_accounts").values() if a["user_id"] == user_id
    ]
    assert [a["id"] for a in page["items"]] == expected and len(expected) == 1


@case("get_connected_account", writes=False)
async def _(call: Call) -> None:
    aid, stored = next(iter(call.store.collection("connected_accounts").items()))
    assert (await call("get_connected_account", {"account_id": aid}))["email"] == stored["email"]


# ----- send as --------------------------------------------------------------------------------
@case("list_send_as", writes=False)
async def _(call: Call) -> None:
    got = await call("list_send_as", {})
    mine = [g["id"] for g in _grants(call).values() if g["allowing_user_id"] == _users(call)[0]]
    assert [g["id"] for g in got["data"]] == mine and len(mine) == 1


@case("get_send_as", writes=False)
async def _(call: Call) -> None:
    gid, stored = next(iter(_grants(call).items()))
    assert (await call("get_send_as", {"send_as_id": gid}))["allowed_user_id"] == stored["allowed_user_id"]


@case("create_send_as")
async def _(call: Call) -> None:
    me, other = _users(call)[0], _users(call)[2]
    created = await call("create_send_as", {"allowed_user_id": other})
    stored = _grants(call)[created["id"]]
    assert (stored["allowing_user_id"], stored["allowed_user_id"]) == (me, other)


@case("bulk_update_send_as")
async def _(call: Call) -> None:
    me, marco, keiko = _users(call)[:3]
    got = await call("bulk_update_send_as", {"allow": [keiko], "disallow": [marco]})
    pairs = sorted((g["allowing_user_id"], g["allowed_user_id"]) for g in _grants(call).values())
    assert pairs == [(me, keiko)] and [g["allowed_user_id"] for g in got["data"]] == [keiko]


@case("delete_send_as")
async def _(call: Call) -> None:
    gid = next(iter(_grants(call)))
    await call("delete_send_as", {"send_as_id": gid})
    assert gid not in _grants(call)


@case("delete_send_as_by_users")
async def _(call: Call) -> None:
    gid, grant = next(iter(_grants(call).items()))
    args = {"allowing_user_id": grant["allowing_user_id"], "allowed_user_id": grant["allowed_user_id"]}
    await call("delete_send_as_by_users", args)
    assert gid not in _grants(call)


# ----- unsubscribed emails --------------------------------------------------------------------
@case("list_unsubscribed_emails", writes=False)
async def _(call: Call) -> None:
    page = await call("list_unsubscribed_emails", {})
    assert (
        sorted(e["email"] for e in page["items"]) == sorted(_unsubscribed(call)) and len(page["items"]) == 2
    )


@case("unsubscribe_email")
async def _(call: Call) -> None:
    await call("unsubscribe_email", {"email": "Pat.Doe@Example.com"})
    assert _unsubscribed(call)["pat.doe@example.com"]["email"] == "pat.doe@example.com"


@case("resubscribe_email")
async def _(call: Call) -> None:
    email = next(iter(_unsubscribed(call)))
    await call("resubscribe_email", {"email_address": email})
    assert email not in _unsubscribed(call)


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
unknown_ref("bulk_update_send_as", "allow", {"allow": [gone("user")]})
unknown_ref("create_send_as", "allowed_user", {"allowed_user_id": gone("user")})
close_error(
    "delete_send_as_by_users",
    {"allowing_user_id": gone("user"), "allowed_user_id": gone("user")},
    BAD_REQUEST,
    "must be your own user ID",
)
close_error("list_send_as", {"allowing_user_id": gone("user")}, BAD_REQUEST, "must be your own user ID")
revoked_key("list_connected_accounts", "list_unsubscribed_emails")
revoked_key("unsubscribe_email", args={"email": "pat@example.com"})
