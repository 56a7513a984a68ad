"""End-to-end cases for the playbooks tools."""

from __future__ import annotations

from e2e_cases.registry import Call, case, gone, revoked_key, unknown_ref


def _playbooks(call: Call) -> dict:
    return call.store.collection("playbooks")


def _active(call: Call) -> str:
    return next(p for p, o in _playbooks(call).items() if o["archived_at"] is None)


@case("list_playbooks", writes=False)
async def _(call: Call) -> None:
    page = await call("list_playbooks", {"is_archived": False})
    expected = [
        p
        for p, o in sorted(_playbooks(call).items(), key=lambda kv: kv[1]["position"])
        if not o["archived_at"]
    ]
    assert len(expected) == 2 and [p["id"] for p in page["items"]] == expected


@case("get_playbook", writes=False)
async def _(call: Call) -> None:
    pid = _active(call)
    got = await call("get_playbook", {"playbook_id": pid})
    assert got["id"] == pid and got["name"] == _playbooks(call)[pid]["name"] and "created_at" in got


@case("create_playbook")
async def _(call: Call) -> None:
    got = await call("create_playbook", {"name": "Onboarding call", "summary_guidance": "Note blockers."})
    stored = _playbooks(call)[got["id"]]
    assert stored["name"] == "Onboarding call" and stored["summary_guidance"] == "Note blockers."
    assert stored["position"] == len(_playbooks(call)) - 1 and stored["archived_at"] is None


@case("update_playbook")
async def _(call: Call) -> None:
    pid = _active(call)
    await call("update_playbook", {"playbook_id": pid, "description": "New script"})
    assert _playbooks(call)[pid]["description"] == "New script"


@case("archive_playbook")
async def _(call: Call) -> None:
    pid = _active(call)
    got = await call("archive_playbook", {"playbook_id": pid})
    assert got["archived_at"] and _playbooks(call)[pid]["archived_by_id"] == next(iter(call.store.users))


@case("unarchive_playbook")
async def _(call: Call) -> None:
    pid = next(p for p, o in _playbooks(call).items() if o["archived_at"] is not None)
    await call("unarchive_playbook", {"playbook_id": pid})
    assert _playbooks(call)[pid]["archived_at"] is None and _playbooks(call)[pid]["archived_by_id"] is None


@case("delete_playbook")
async def _(call: Call) -> None:
    pid = _active(call)
    await call("delete_playbook", {"playbook_id": pid})
    assert pid not in _playbooks(call)


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
unknown_ref("create_playbook", "outcome_ids", {"name": "Discovery", "outcome_ids": [gone("outcome")]})
revoked_key("list_playbooks")
