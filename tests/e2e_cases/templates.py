"""End-to-end cases for the templates tools (email and SMS templates)."""

from __future__ import annotations

from e2e_cases.registry import Call, case, revoked_key


def _email_templates(call: Call) -> dict:
    return call.store.collection("email_templates")


def _sms_templates(call: Call) -> dict:
    return call.store.collection("sms_templates")


# ----- email templates ------------------------------------------------------------------------
@case("list_email_templates", writes=False)
async def _(call: Call) -> None:
    page = await call("list_email_templates", {"is_shared": True})
    shared = sorted(t["name"] for t in _email_templates(call).values() if t["is_shared"])
    assert [t["name"] for t in page["items"]] == shared and len(shared) == 2


@case("get_email_template", writes=False)
async def _(call: Call) -> None:
    tid, stored = next(iter(_email_templates(call).items()))
    got = await call("get_email_template", {"template_id": tid})
    assert got["id"] == tid and got["body"] == stored["body"]


@case("render_email_template", writes=False)
async def _(call: Call) -> None:
    tid = next(t["id"] for t in _email_templates(call).values() if t["name"] == "Intro after demo request")
    lead_id = call.lead_with_contacts()
    lead = call.store.leads[lead_id]
    contact = call.store.children_of(lead_id)["contacts"][0]
    got = await call(
        "render_email_template", {"template_id": tid, "lead_id": lead_id, "contact_id": contact["id"]}
    )
    first = contact["name"].split()[0]
    assert got["subject"] == f"{lead['name']} x {call.store.org['name']}"
    assert got["body"].startswith(f"<p>Hi {first},</p>") and "{{" not in got["body"]


@case("create_email_template")
async def _(call: Call) -> None:
    args = {"name": "Demo follow-up", "subject": "Hi {{ contact.first_name }}", "body": "<p>Thanks</p>"}
    created = await call("create_email_template", args)
    stored = _email_templates(call)[created["id"]]
    assert {k: stored[k] for k in args} == args and stored["is_archived"] is False


@case("update_email_template")
async def _(call: Call) -> None:
    tid = next(iter(_email_templates(call)))
    await call("update_email_template", {"template_id": tid, "is_archived": True, "subject": "New subject"})
    assert _email_templates(call)[tid]["is_archived"] is True
    assert _email_templates(call)[tid]["subject"] == "New subject"


@case("delete_email_template")
async def _(call: Call) -> None:
    tid = next(iter(_email_templates(call)))
    await call("delete_email_template", {"template_id": tid})
    assert tid not in _email_templates(call)


# ----- SMS templates --------------------------------------------------------------------------
@case("list_sms_templates", writes=False)
async def _(call: Call) -> None:
    page = await call("list_sms_templates", {})
    assert [t["id"] for t in page["items"]] == sorted(
        _sms_templates(call), key=lambda i: _sms_templates(call)[i]["name"]
    )


@case("get_sms_template", writes=False)
async def _(call: Call) -> None:
    sid, stored = next(iter(_sms_templates(call).items()))
    assert (await call("get_sms_template", {"template_id": sid}))["text"] == stored["text"]


@case("create_sms_template")
async def _(call: Call) -> None:
    created = await call("create_sms_template", {"name": "Running late", "text": "Five minutes late, sorry!"})
    stored = _sms_templates(call)[created["id"]]
    assert stored["text"] == "Five minutes late, sorry!" and stored["status"] == "active"


@case("update_sms_template")
async def _(call: Call) -> None:
    sid = next(iter(_sms_templates(call)))
    await call("update_sms_template", {"template_id": sid, "status": "archived"})
    assert _sms_templates(call)[sid]["status"] == "archived"


@case("delete_sms_template")
async def _(call: Call) -> None:
    sid = next(iter(_sms_templates(call)))
    await call("delete_sms_template", {"template_id": sid})
    assert sid not in _sms_templates(call)


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
revoked_key("create_email_template", "create_sms_template", args={"name": "Follow-up"})
revoked_key("list_email_templates", "list_sms_templates")
