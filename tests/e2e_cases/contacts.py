"""End-to-end cases for the contacts tools."""

from __future__ import annotations

from e2e_cases.registry import Call, case, example, gone, revoked_key, unknown_ref


# ----- contacts -------------------------------------------------------------------------------
@case("list_contacts", writes=False)
async def _(call: Call) -> None:
    lead_id = call.lead_with_contacts(2)
    page = await call("list_contacts", {"lead_id": lead_id})
    assert {c["id"] for c in page["items"]} == {c["id"] for c in call.store.children_of(lead_id)["contacts"]}


@case("get_contact", writes=False)
async def _(call: Call) -> None:
    contact_id = next(iter(call.store.contacts))
    assert (await call("get_contact", {"contact_id": contact_id}))["id"] == contact_id


@case("create_contact")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    contact = await call(
        "create_contact",
        {
            "lead_id": lead_id,
            "name": example("create_contact", "name"),
            "phones": [{"phone": "+15125550100"}],
        },
    )
    stored = call.store.contacts[contact["id"]]
    assert stored["lead_id"] == lead_id and stored["phones"][0]["phone"] == "+15125550100"


@case("update_contact")
async def _(call: Call) -> None:
    contact_id = next(iter(call.store.contacts))
    await call("update_contact", {"contact_id": contact_id, "title": "CEO"})
    assert call.store.contacts[contact_id]["title"] == "CEO"


@case("delete_contact")
async def _(call: Call) -> None:
    contact_id = next(iter(call.store.contacts))
    await call("delete_contact", {"contact_id": contact_id})
    assert contact_id not in call.store.contacts


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
unknown_ref("create_contact", "lead", {"lead_id": gone("lead"), "name": "Bruce Wayne"})
revoked_key("list_contacts")
