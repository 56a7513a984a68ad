"""End-to-end cases for the comments tools."""

from __future__ import annotations

from typing import Any

from e2e_cases.registry import Call, case, gone, revoked_key, unknown_ref


def _comments(call: Call) -> dict[str, Any]:
    return call.store.collection("comments")


def _threads(call: Call) -> dict[str, Any]:
    return call.store.collection("comment_threads")


def _busiest_thread(call: Call) -> dict[str, Any]:
    return max(
        _threads(call).values(),
        key=lambda t: sum(c["thread_id"] == t["id"] for c in _comments(call).values()),
    )


@case("list_comments", writes=False)
async def _(call: Call) -> None:
    thread = _busiest_thread(call)
    want = sorted(
        (c for c in _comments(call).values() if c["object_id"] == thread["object_id"]),
        key=lambda c: c["date_created"],
    )
    page = await call("list_comments", {"object_id": thread["object_id"]})
    assert [c["id"] for c in page["items"]] == [c["id"] for c in want] and want
    by_thread = await call("list_comments", {"thread_id": thread["id"]})
    assert [c["id"] for c in by_thread["items"]] == [c["id"] for c in want]


@case("get_comment", writes=False)
async def _(call: Call) -> None:
    comment = next(iter(_comments(call).values()))
    got = await call("get_comment", {"comment_id": comment["id"]})
    assert (got["body"], got["thread_id"], got["object_id"]) == (
        comment["body"],
        comment["thread_id"],
        comment["object_id"],
    )


@case("create_comment")
async def _(call: Call) -> None:
    opp = next(
        o
        for o in call.store.opportunities.values()
        if all(t["object_id"] != o["id"] for t in _threads(call).values())
    )
    created = await call("create_comment", {"object_id": opp["id"], "body": "Legal review done."})
    stored = _comments(call)[created["id"]]
    thread = _threads(call)[stored["thread_id"]]
    assert (
        stored["body"] == "Legal review done."
        and stored["created_by"] == call.store.users[next(iter(call.store.users))]["id"]
    )
    assert (thread["object_id"], thread["object_type"], thread["lead_id"]) == (
        opp["id"],
        "opportunity",
        opp["lead_id"],
    )
    again = await call("create_comment", {"object_id": opp["id"], "body": "And signed."})
    assert _comments(call)[again["id"]]["thread_id"] == thread["id"]  # the object's one thread


@case("update_comment")
async def _(call: Call) -> None:
    me = next(iter(call.store.users))
    comment = next(c for c in _comments(call).values() if c["created_by"] == me)
    await call("update_comment", {"comment_id": comment["id"], "body": "Edited."})
    assert _comments(call)[comment["id"]]["body"] == "Edited."


@case("delete_comment")
async def _(call: Call) -> None:
    thread = _busiest_thread(call)
    ids = [c["id"] for c in _comments(call).values() if c["thread_id"] == thread["id"]]
    await call("delete_comment", {"comment_id": ids[0]})
    assert _comments(call)[ids[0]]["body"] == "" and _comments(call)[ids[0]]["is_removed"]
    for comment_id in ids[1:]:
        await call("delete_comment", {"comment_id": comment_id})
    assert len(ids) >= 2 and not set(ids) & set(_comments(call)) and thread["id"] not in _threads(call)


@case("list_comment_threads", writes=False)
async def _(call: Call) -> None:
    objects = sorted({t["object_id"] for t in _threads(call).values()})[:2]
    page = await call("list_comment_threads", {"object_ids": objects})
    assert sorted(t["object_id"] for t in page["items"]) == objects
    for thread in page["items"]:
        assert [c["id"] for c in thread["comments"]] == [
            c["id"]
            for c in sorted(_comments(call).values(), key=lambda c: c["date_created"])
            if c["thread_id"] == thread["id"]
        ]


@case("get_comment_thread", writes=False)
async def _(call: Call) -> None:
    thread = _busiest_thread(call)
    got = await call("get_comment_thread", {"thread_id": thread["id"]})
    assert got["object_id"] == thread["object_id"]
    assert sorted(c["id"] for c in got["comments"]) == sorted(
        c["id"] for c in _comments(call).values() if c["thread_id"] == thread["id"]
    )


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
unknown_ref("create_comment", "object_id", {"object_id": gone("lead"), "body": "Budget confirmed"})
revoked_key("list_comment_threads")
revoked_key("list_comments", args=lambda store: {"object_id": next(iter(store.leads))})
