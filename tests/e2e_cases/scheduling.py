"""End-to-end cases for the scheduling tools: user links, the OAuth-only sync, shared links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from conftest import SPECS, settings_for_tests, text_of
from mcp import Client

from close_mcp.app import Upstream, open_local_app
from close_mcp.credentials import Credential
from e2e_cases.registry import (
    BAD_REQUEST,
    FORBIDDEN,
    NOT_FOUND,
    Call,
    case,
    close_error,
    gone,
    not_admin,
    revoked_key,
    unknown_ref,
)


def _links(call: Call) -> dict:
    return call.store.collection("scheduling_links")


def _shared(call: Call) -> dict:
    return call.store.collection("shared_scheduling_links")


def _assocs(call: Call) -> dict:
    return call.store.collection("shared_scheduling_link_associations")


def _me(call: Call) -> str:
    return next(iter(call.store.users))


@asynccontextmanager
async def oauth_session(call: Call) -> AsyncIterator[Client]:
    """A session whose upstream credential is the sandbox's OAuth token (``<key>_oauth``)."""
    upstream = Upstream(call.sandbox.base_url, Credential(f"{call.sandbox.api_key}_oauth", "oauth"))
    async with (
        open_local_app(settings_for_tests(sandbox=True), upstream, specs=SPECS) as app,
        Client(app.server, mode="legacy") as client,
    ):
        yield client


# ----- user scheduling links ----------------------------------------------------------------
@case("list_scheduling_links", writes=False)
async def _(call: Call) -> None:
    page = await call("list_scheduling_links", {})
    mine = {lid for lid, o in _links(call).items() if o["user_id"] == _me(call)}
    assert len(mine) == 2 and {o["id"] for o in page["items"]} == mine


@case("get_scheduling_link", writes=False)
async def _(call: Call) -> None:
    lid, stored = next(iter(_links(call).items()))
    got = await call("get_scheduling_link", {"scheduling_link_id": lid})
    assert got["url"] == stored["url"] and got["source"] == "MANUAL" and got["type"] == "USER"


@case("create_scheduling_link")
async def _(call: Call) -> None:
    got = await call("create_scheduling_link", {"name": "Intro", "url": "https://cal.example/me/intro"})
    stored = _links(call)[got["id"]]
    assert stored["url"] == "https://cal.example/me/intro" and stored["user_id"] == _me(call)
    assert stored["source"] == "MANUAL"


@case("update_scheduling_link")
async def _(call: Call) -> None:
    lid = next(iter(_links(call)))
    await call("update_scheduling_link", {"scheduling_link_id": lid, "duration_in_minutes": 45})
    assert _links(call)[lid]["duration_in_minutes"] == 45


@case("delete_scheduling_link")
async def _(call: Call) -> None:
    lid = next(a["user_scheduling_link_id"] for a in _assocs(call).values())
    await call("delete_scheduling_link", {"scheduling_link_id": lid})
    assert lid not in _links(call)
    assert all(a["user_scheduling_link_id"] != lid for a in _assocs(call).values())


@case("set_scheduling_link_integration")
async def _(call: Call) -> None:
    args = {"source_id": "evt-42", "name": "Demo", "url": "https://app.example/book/42"}
    refused = await call.client.call_tool("set_scheduling_link_integration", args)  # the session's API key
    assert refused.is_error and "403" in text_of(refused)
    async with oauth_session(call) as client:
        first = await client.call_tool("set_scheduling_link_integration", args)
        again = await client.call_tool(
            "set_scheduling_link_integration", {"source_id": "evt-42", "duration_in_minutes": 20}
        )
    assert not first.is_error and not again.is_error, text_of(first) + text_of(again)
    synced = [o for o in _links(call).values() if o["source_id"] == "evt-42"]
    assert (
        len(synced) == 1 and synced[0]["source"] == "THIRD_PARTY" and synced[0]["duration_in_minutes"] == 20
    )


# ----- shared scheduling links ----------------------------------------------------------------
@case("list_shared_scheduling_links", writes=False)
async def _(call: Call) -> None:
    page = await call("list_shared_scheduling_links", {})
    assert len(_shared(call)) == 1 and {o["id"] for o in page["items"]} == set(_shared(call))


@case("get_shared_scheduling_link", writes=False)
async def _(call: Call) -> None:
    sid = next(iter(_shared(call)))
    got = await call("get_shared_scheduling_link", {"scheduling_link_id": sid})
    assert got["template_tag"] == "{{ scheduling_link.book_a_demo }}" and len(got["associations"]) == 2


@case("create_shared_scheduling_link")
async def _(call: Call) -> None:
    got = await call("create_shared_scheduling_link", {"name": "Pricing call"})
    assert _shared(call)[got["id"]]["name"] == "Pricing call"
    assert got["template_tag"] == "{{ scheduling_link.pricing_call }}"


@case("update_shared_scheduling_link")
async def _(call: Call) -> None:
    sid = next(iter(_shared(call)))
    await call("update_shared_scheduling_link", {"scheduling_link_id": sid, "description": "Team demos"})
    assert _shared(call)[sid]["description"] == "Team demos"


@case("delete_shared_scheduling_link")
async def _(call: Call) -> None:
    sid = next(iter(_shared(call)))
    await call("delete_shared_scheduling_link", {"scheduling_link_id": sid})
    assert sid not in _shared(call) and not _assocs(call)


@case("map_shared_scheduling_link")
async def _(call: Call) -> None:
    sid = next(iter(_shared(call)))
    got = await call(
        "map_shared_scheduling_link", {"shared_scheduling_link_id": sid, "url": "https://cal.example/x"}
    )
    mine = [a for a in _assocs(call).values() if a["user_id"] == _me(call)]
    assert [a["id"] for a in mine] == [got["id"]] and mine[0]["url"] == "https://cal.example/x"


@case("unmap_shared_scheduling_link")
async def _(call: Call) -> None:
    sid = next(iter(_shared(call)))
    await call("unmap_shared_scheduling_link", {"shared_scheduling_link_id": sid})
    assert [a["user_id"] for a in _assocs(call).values()] == list(call.store.users)[1:2]


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
close_error(
    "create_scheduling_link",
    {"name": "Intro", "url": "https://calendar"},
    BAD_REQUEST,
    "url: Enter a valid URL",
)
not_admin("create_shared_scheduling_link", {"name": "Book a demo"})
unknown_ref(
    "map_shared_scheduling_link",
    "shared_scheduling_link",
    {"shared_scheduling_link_id": gone("schlnk"), "url": "https://cal.example/dana/30"},
)
close_error(  # the session's API key, not an OAuth app's token
    "set_scheduling_link_integration", {"source_id": "evt-type-42"}, FORBIDDEN, "OAuth applications"
)
close_error(
    "unmap_shared_scheduling_link",
    {"shared_scheduling_link_id": gone("schlnk")},
    NOT_FOUND,
    "SharedSchedulingLink matching query does not exist",
)
revoked_key("list_scheduling_links", "list_shared_scheduling_links")
