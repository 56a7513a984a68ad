"""End-to-end cases for the tasks tools."""

from __future__ import annotations

from datetime import date

from e2e_cases.registry import Call, case, example, gone, revoked_key, unknown_ref


# ----- tasks ----------------------------------------------------------------------------------
@case("list_tasks", writes=False)
async def _(call: Call) -> None:
    today = date.today().isoformat()
    page = await call("list_tasks", {"view": "inbox", "limit": 100})
    stored = [call.store.tasks[t["id"]] for t in page["items"]]
    assert stored and all(not t["is_complete"] and (t.get("date") or "")[:10] <= today for t in stored)


@case("get_task", writes=False)
async def _(call: Call) -> None:
    task_id = next(t for t in call.store.tasks if call.store.tasks[t]["_type"] == "lead")
    assert (await call("get_task", {"task_id": task_id}))["id"] == task_id


@case("create_task")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    text = example("create_task", "text")
    task = await call("create_task", {"lead_id": lead_id, "text": text, "date": "2030-01-01"})
    assert call.store.tasks[task["id"]]["text"] == text == "Send the proposal"


@case("update_task")
async def _(call: Call) -> None:
    task_id = next(t["id"] for t in call.store.tasks.values() if not t["is_complete"])
    await call("update_task", {"task_id": task_id, "is_complete": True})
    assert call.store.tasks[task_id]["is_complete"]


@case("bulk_update_tasks")
async def _(call: Call) -> None:
    lead_id = next(t["lead_id"] for t in call.store.tasks.values() if not t["is_complete"])
    open_ = [t["id"] for t in call.store.children_of(lead_id)["tasks"] if not t["is_complete"]]
    await call(
        "bulk_update_tasks", {"filter_lead_id": lead_id, "filter_is_complete": False, "is_complete": True}
    )
    assert open_ and all(call.store.tasks[t]["is_complete"] for t in open_)


@case("delete_task")
async def _(call: Call) -> None:
    task_id = next(iter(call.store.tasks))
    await call("delete_task", {"task_id": task_id})
    assert task_id not in call.store.tasks


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
unknown_ref("bulk_update_tasks", "assigned_to", {"filter_is_complete": False, "assigned_to": gone("user")})
unknown_ref("create_task", "lead", {"lead_id": gone("lead"), "text": "Send the proposal"})
revoked_key("list_tasks")
