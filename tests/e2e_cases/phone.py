"""End-to-end cases for the phone tools: numbers, blocked numbers and their setting, dialers."""

from __future__ import annotations

from conftest import text_of

from e2e_cases.registry import BAD_REQUEST, Call, case, close_error, not_admin, revoked_key


def _numbers(call: Call) -> dict:
    return call.store.collection("phone_numbers")


def _blocked(call: Call) -> dict:
    return call.store.collection("blocked_phone_numbers")


# ----- phone numbers --------------------------------------------------------------------------
@case("list_phone_numbers", writes=False)
async def _(call: Call) -> None:
    page = await call("list_phone_numbers", {"is_group_number": True})
    expected = {pid for pid, n in _numbers(call).items() if n["is_group_number"]}
    assert expected and {n["id"] for n in page["items"]} == expected


@case("get_phone_number", writes=False)
async def _(call: Call) -> None:
    pid, stored = next(iter(_numbers(call).items()))
    got = await call("get_phone_number", {"phone_number_id": pid})
    assert (
        got["id"] == pid and got["number"] == stored["number"] and got["number_formatted"].startswith("+1 ")
    )


@case("request_phone_number")
async def _(call: Call) -> None:
    before = set(_numbers(call))
    got = await call("request_phone_number", {"country": "US", "sharing": "personal", "prefix": "212"})
    assert set(_numbers(call)) - before == {got["id"]}
    stored = _numbers(call)[got["id"]]
    assert stored["number"].startswith("+1212") and stored["type"] == "internal"
    assert stored["user_id"] == next(iter(call.store.users)) and not stored["is_group_number"]
    assert call.store.collection("phone_number_rentals")[got["id"]]["request"]["country"] == "US"


@case("update_phone_number")
async def _(call: Call) -> None:
    pid = next(iter(_numbers(call)))
    await call(
        "update_phone_number", {"phone_number_id": pid, "label": "Main line", "forward_to": "+14155550100"}
    )
    assert _numbers(call)[pid]["label"] == "Main line" and _numbers(call)[pid]["forward_to"] == "+14155550100"


@case("delete_phone_number")
async def _(call: Call) -> None:
    pid = next(iter(_numbers(call)))
    await call("delete_phone_number", {"phone_number_id": pid})
    assert pid not in _numbers(call)


# ----- blocked numbers ------------------------------------------------------------------------
@case("list_blocked_phone_numbers", writes=False)
async def _(call: Call) -> None:
    page = await call("list_blocked_phone_numbers", {})
    assert len(_blocked(call)) == 2 and {b["id"] for b in page["items"]} == set(_blocked(call))


@case("get_blocked_phone_number", writes=False)
async def _(call: Call) -> None:
    bid, stored = next(iter(_blocked(call).items()))
    got = await call("get_blocked_phone_number", {"blocked_phone_number_id": bid})
    assert got["phone"] == stored["phone"] and got["reason"] == stored["reason"]


@case("block_phone_number")
async def _(call: Call) -> None:
    got = await call("block_phone_number", {"phone": "+14155550142", "reason": "Spam calls"})
    assert _blocked(call)[got["id"]]["phone"] == "+14155550142"
    assert _blocked(call)[got["id"]]["reason"] == "Spam calls"


@case("update_blocked_phone_number")
async def _(call: Call) -> None:
    bid = next(iter(_blocked(call)))
    await call("update_blocked_phone_number", {"blocked_phone_number_id": bid, "reason": "Harassment"})
    assert _blocked(call)[bid]["reason"] == "Harassment"


@case("delete_blocked_phone_number")
async def _(call: Call) -> None:
    bid = next(iter(_blocked(call)))
    await call("delete_blocked_phone_number", {"blocked_phone_number_id": bid})
    assert bid not in _blocked(call)


@case("get_blocked_number_settings", writes=False)
async def _(call: Call) -> None:
    assert await call("get_blocked_number_settings", {}) == {"reject_anonymous_inbound_calls": False}


@case("update_blocked_number_settings")
async def _(call: Call) -> None:
    await call("update_blocked_number_settings", {"reject_anonymous_inbound_calls": True})
    settings = call.store.collection("blocked_phone_number_settings")["org"]
    assert settings == {"reject_anonymous_inbound_calls": True}
    result = await call.client.call_tool("update_blocked_number_settings", {"confirm": True})
    assert result.is_error and "reject_anonymous_inbound_calls" in text_of(result)  # required


# ----- dialers --------------------------------------------------------------------------------
@case("list_dialer_sessions", writes=False)
async def _(call: Call) -> None:
    dialers = call.store.collection("dialers")
    page = await call("list_dialer_sessions", {"status": "active"})
    expected = {d for d, o in dialers.items() if o["status"] == "active"}
    assert len(expected) == 1 and {d["id"] for d in page["items"]} == expected


@case("get_dialer_session", writes=False)
async def _(call: Call) -> None:
    did, stored = next(iter(call.store.collection("dialers").items()))
    got = await call("get_dialer_session", {"dialer_id": did})
    assert got["id"] == did and got["status"] == stored["status"]


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
close_error(
    "block_phone_number",
    lambda store: {
        "phone": next(iter(store.collection("blocked_phone_numbers").values()))["phone"],
        "reason": "Spam",
    },
    BAD_REQUEST,
    "already blocked",
)
close_error(
    "request_phone_number",
    {"country": "DE", "sharing": "personal"},
    BAD_REQUEST,
    "regulatory bundle (bundle_id)",
)
not_admin("update_blocked_number_settings", {"reject_anonymous_inbound_calls": True})
revoked_key(
    "get_blocked_number_settings", "list_blocked_phone_numbers", "list_dialer_sessions", "list_phone_numbers"
)
