"""End-to-end cases for the activities tools."""

from __future__ import annotations

from e2e_cases.registry import Call, case, example


# ----- activities -----------------------------------------------------------------------------
@case("list_activities", writes=False)
async def _(call: Call) -> None:
    """Two types at once: Close takes comma lists for ``_type``."""
    lead_id = call.lead_with_activities("Note", "Call")
    expected = {
        a["id"] for a in call.store.children_of(lead_id)["activities"] if a["_type"] in ("Note", "Call")
    }
    page = await call("list_activities", {"lead_id": lead_id, "type": ["Note", "Call"], "limit": 100})
    assert expected and {a["id"] for a in page["items"]} == expected


@case("create_note")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    note = await call("create_note", {"lead_id": lead_id, "note": example("create_note", "note")})
    stored = call.store.activities[note["id"]]
    assert stored["_type"] == "Note" and stored["lead_id"] == lead_id


@case("log_call")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    logged = await call("log_call", {"lead_id": lead_id, "duration": 300, "direction": "outbound"})
    stored = call.store.activities[logged["id"]]
    assert stored["_type"] == "Call" and stored["duration"] == 300 and stored["direction"] == "outbound"


@case("create_email")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    email = await call(
        "create_email", {"lead_id": lead_id, "status": "draft", "subject": "Hi", "to": ["a@b.example"]}
    )
    stored = call.store.activities[email["id"]]
    assert stored["_type"] == "Email" and stored["status"] == "draft" and stored["subject"] == "Hi"
