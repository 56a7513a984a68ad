"""End-to-end cases for the activities tools."""

from __future__ import annotations

from close_mcp.sandbox.store import Obj
from e2e_cases.registry import Call, case, example, gone, revoked_key, unknown_ref


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


# ----- helpers for the typed activities -------------------------------------------------------
def _of(call: Call, kind: str, **match: object) -> Obj:
    return next(
        a
        for a in call.store.activities.values()
        if a["_type"] == kind and all(a.get(k) == v for k, v in match.items())
    )


def _ids_on_lead(call: Call, kind: str, lead_id: str) -> set[str]:
    return {a["id"] for a in call.store.children_of(lead_id)["activities"] if a["_type"] == kind}


def _list_case(kind: str, plural: str) -> None:
    """The list of one type, by lead: exactly that lead's objects of the type."""

    async def list_case(call: Call) -> None:
        lead_id = _of(call, kind)["lead_id"]
        page = await call(f"list_{plural}", {"lead_id": lead_id, "limit": 100})
        expected = _ids_on_lead(call, kind, lead_id)
        assert expected and {a["id"] for a in page["items"]} == expected

    case(f"list_{plural}", writes=False)(list_case)


def _read_cases(tool_prefix: str, kind: str, id_arg: str, *, plural: str) -> None:
    """The list and get cases of one type."""
    _list_case(kind, plural)

    async def get_case(call: Call) -> None:
        obj = _of(call, kind)
        got = await call(f"get_{tool_prefix}", {id_arg: obj["id"]})
        assert got["id"] == obj["id"] and got["_type"] == kind

    case(f"get_{tool_prefix}", writes=False)(get_case)


def _delete_case(tool: str, kind: str, id_arg: str) -> None:
    async def run(call: Call) -> None:
        obj = _of(call, kind)
        await call(tool, {id_arg: obj["id"]})
        assert obj["id"] not in call.store.activities

    case(tool)(run)


for _prefix, _kind, _arg, _plural in [
    ("sms", "SMS", "sms_id", "sms"),
    ("whatsapp_message", "WhatsAppMessage", "message_id", "whatsapp_messages"),
    ("meeting", "Meeting", "meeting_id", "meetings"),
    ("lead_status_change", "LeadStatusChange", "change_id", "lead_status_changes"),
    ("task_completion", "TaskCompleted", "activity_id", "task_completions"),
    ("created_activity", "Created", "activity_id", "created_activities"),
    ("lead_merge", "LeadMerge", "activity_id", "lead_merges"),
    ("form_submission", "FormSubmission", "activity_id", "form_submissions"),
    ("import_update", "ImportUpdate", "activity_id", "import_updates"),
]:
    _read_cases(_prefix, _kind, _arg, plural=_plural)

for _kind, _plural in [("Note", "notes"), ("Call", "calls"), ("Email", "emails")]:  # their get cases: below
    _list_case(_kind, _plural)

for _tool, _kind, _arg in [
    ("delete_note", "Note", "note_id"),
    ("delete_call", "Call", "call_id"),
    ("delete_email", "Email", "email_id"),
    ("delete_sms", "SMS", "sms_id"),
    ("delete_whatsapp_message", "WhatsAppMessage", "message_id"),
    ("delete_meeting", "Meeting", "meeting_id"),
    ("delete_lead_status_change", "LeadStatusChange", "change_id"),
    ("delete_task_completion", "TaskCompleted", "activity_id"),
    ("delete_form_submission", "FormSubmission", "activity_id"),
    ("delete_import_update", "ImportUpdate", "activity_id"),
]:
    _delete_case(_tool, _kind, _arg)


# ----- notes, calls, emails -------------------------------------------------------------------
@case("get_note", writes=False)
async def _(call: Call) -> None:
    note = _of(call, "Note")
    assert (await call("get_note", {"note_id": note["id"]}))["note"] == note["note"]


@case("update_note")
async def _(call: Call) -> None:
    note = _of(call, "Note")
    await call("update_note", {"note_id": note["id"], "note": "Revised", "pinned": True})
    assert call.store.activities[note["id"]]["note"] == "Revised" and note["pinned"] is True


@case("get_call", writes=False)
async def _(call: Call) -> None:
    logged = _of(call, "Call")
    assert (await call("get_call", {"call_id": logged["id"]}))["duration"] == logged["duration"]


@case("update_call")
async def _(call: Call) -> None:
    logged = _of(call, "Call")
    await call(
        "update_call", {"call_id": logged["id"], "note": "Asked for pricing", "disposition": "answered"}
    )
    stored = call.store.activities[logged["id"]]
    assert stored["note"] == "Asked for pricing" and stored["disposition"] == "answered"


@case("get_email", writes=False)
async def _(call: Call) -> None:
    email = _of(call, "Email")
    assert (await call("get_email", {"email_id": email["id"]}))["subject"] == email["subject"]


async def _draft(call: Call) -> str:
    lead_id = next(iter(call.store.leads))
    args = {"lead_id": lead_id, "status": "draft", "subject": "Hi", "to": ["a@b.example"]}
    return str((await call("create_email", args))["id"])


@case("update_email")
async def _(call: Call) -> None:
    email_id = await _draft(call)
    await call("update_email", {"email_id": email_id, "subject": "Proposal", "body_text": "See attached."})
    stored = call.store.activities[email_id]
    assert (stored["subject"], stored["body_text"], stored["status"]) == (
        "Proposal",
        "See attached.",
        "draft",
    )


@case("send_email")
async def _(call: Call) -> None:
    email_id = await _draft(call)
    await call(
        "send_email", {"email_id": email_id, "status": "outbox", "sender": "Dana <dana@acme-demo.example>"}
    )
    stored = call.store.activities[email_id]
    assert stored["status"] == "sent" and stored["date_sent"]


# ----- email threads --------------------------------------------------------------------------
@case("list_email_threads", writes=False)
async def _(call: Call) -> None:
    lead_id = _of(call, "Email")["lead_id"]
    expected = {
        a["thread_id"] for a in call.store.children_of(lead_id)["activities"] if a["_type"] == "Email"
    }
    page = await call("list_email_threads", {"lead_id": lead_id, "limit": 100})
    assert expected and {t["id"] for t in page["items"]} == expected


@case("get_email_thread", writes=False)
async def _(call: Call) -> None:
    email = _of(call, "Email")
    thread = await call("get_email_thread", {"thread_id": email["thread_id"]})
    assert thread["id"] == email["thread_id"] and email["id"] in {e["id"] for e in thread["emails"]}


@case("delete_email_thread")
async def _(call: Call) -> None:
    email = _of(call, "Email")
    await call("delete_email_thread", {"thread_id": email["thread_id"]})
    assert email["id"] not in call.store.activities


# ----- SMS ------------------------------------------------------------------------------------
async def _sms_draft(call: Call) -> tuple[str, str]:
    contact = next(c for c in call.store.contacts.values() if c.get("phones"))
    args = {"lead_id": contact["lead_id"], "contact_id": contact["id"], "status": "draft", "text": "Hi"}
    args["remote_phone"] = contact["phones"][0]["phone"]
    return str((await call("create_sms", args))["id"]), contact["lead_id"]


@case("create_sms")
async def _(call: Call) -> None:
    sms_id, lead_id = await _sms_draft(call)
    stored = call.store.activities[sms_id]
    assert (stored["_type"], stored["status"], stored["lead_id"], stored["text"]) == (
        "SMS",
        "draft",
        lead_id,
        "Hi",
    )
    assert sms_id not in call.store.collection("sent_sms")


@case("update_sms")
async def _(call: Call) -> None:
    sms_id, _ = await _sms_draft(call)
    await call("update_sms", {"sms_id": sms_id, "text": "Running late", "local_phone": "+16505550100"})
    stored = call.store.activities[sms_id]
    assert stored["text"] == "Running late" and stored["local_phone"] == "+16505550100"


@case("send_sms")
async def _(call: Call) -> None:
    sms_id, _ = await _sms_draft(call)
    await call("send_sms", {"sms_id": sms_id, "status": "outbox", "local_phone": "+16505550100"})
    assert call.store.activities[sms_id]["status"] == "sent"
    assert call.store.collection("sent_sms")[sms_id]["from"] == "+16505550100"


# ----- WhatsApp -------------------------------------------------------------------------------
@case("log_whatsapp_message")
async def _(call: Call) -> None:
    contact = next(c for c in call.store.contacts.values() if c.get("phones"))
    args = {"lead_id": contact["lead_id"], "contact_id": contact["id"], "direction": "incoming"}
    args.update(external_whatsapp_message_id="wamid.E2E1", local_phone="+16505550100")
    args.update(remote_phone=contact["phones"][0]["phone"], message_markdown="Send the *deck*")
    msg = await call("log_whatsapp_message", args)
    stored = call.store.activities[msg["id"]]
    assert stored["_type"] == "WhatsAppMessage" and stored["message_html"] == "Send the <strong>deck</strong>"


@case("update_whatsapp_message")
async def _(call: Call) -> None:
    msg = _of(call, "WhatsAppMessage")
    await call("update_whatsapp_message", {"message_id": msg["id"], "message_markdown": "_edited_"})
    assert call.store.activities[msg["id"]]["message_html"] == "<em>edited</em>"


# ----- meetings -------------------------------------------------------------------------------
@case("update_meeting")
async def _(call: Call) -> None:
    meeting = _of(call, "Meeting")
    await call("update_meeting", {"meeting_id": meeting["id"], "user_note_html": "<p>Pilot agreed.</p>"})
    assert call.store.activities[meeting["id"]]["user_note_html"] == "<p>Pilot agreed.</p>"


@case("add_meeting_integration")
async def _(call: Call) -> None:
    """The test session uses an API key: Close (and the sandbox) allow this only to OAuth apps,
    so the tool reports Close's refusal and nothing changes (the OAuth path: tests/sandbox)."""
    meeting = _of(call, "Meeting")
    args = {"meeting_id": meeting["id"], "integration_data": {"summary": "x"}}
    result = await call.client.call_tool("add_meeting_integration", args)
    assert result.is_error and "OAuth" in result.content[0].text
    assert call.store.activities[meeting["id"]]["integrations"] == []


# ----- custom activities ----------------------------------------------------------------------
def _demo_type(call: Call) -> str:
    """A seeded custom activity type (custom objects area) with no required fields."""
    fields = call.store.collection("activity_custom_fields").values()
    required = {cf.get("custom_activity_type_id") for cf in fields if cf.get("required")}
    return next(t for t in call.store.collection("custom_activity_types") if t not in required)


async def _custom(call: Call) -> Obj:
    lead_id = next(iter(call.store.leads))
    args = {"lead_id": lead_id, "activity_type_id": _demo_type(call), "status": "draft"}
    return dict(await call("create_custom_activity", args))


@case("create_custom_activity")
async def _(call: Call) -> None:
    made = await _custom(call)
    stored = call.store.activities[made["id"]]
    assert stored["_type"] == "CustomActivity" and stored["custom_activity_type_id"] == _demo_type(call)
    assert stored["status"] == "draft"


@case("list_custom_activities")
async def _(call: Call) -> None:
    made = await _custom(call)
    args = {"lead_id": made["lead_id"], "activity_type_id": _demo_type(call), "limit": 100}
    assert [a["id"] for a in (await call("list_custom_activities", args))["items"]] == [made["id"]]


@case("get_custom_activity")
async def _(call: Call) -> None:
    made = await _custom(call)
    assert (await call("get_custom_activity", {"activity_id": made["id"]}))["status"] == "draft"


@case("update_custom_activity")
async def _(call: Call) -> None:
    made = await _custom(call)
    await call("update_custom_activity", {"activity_id": made["id"], "status": "published", "pinned": True})
    stored = call.store.activities[made["id"]]
    assert stored["status"] == "published" and stored["pinned"] is True


@case("delete_custom_activity")
async def _(call: Call) -> None:
    made = await _custom(call)
    await call("delete_custom_activity", {"activity_id": made["id"]})
    assert made["id"] not in call.store.activities


# ----- status changes -------------------------------------------------------------------------
@case("log_lead_status_change")
async def _(call: Call) -> None:
    lead_id, lead = next(iter(call.store.leads.items()))
    before = lead["status_id"]
    new = next(s for s in call.store.lead_statuses if s != before)
    made = await call(
        "log_lead_status_change", {"lead_id": lead_id, "new_status_id": new, "old_status_id": before}
    )
    stored = call.store.activities[made["id"]]
    assert stored["_type"] == "LeadStatusChange" and stored["new_status_id"] == new
    assert call.store.leads[lead_id]["status_id"] == before  # history only


def _opp_change_args(call: Call) -> dict[str, str]:
    opp = next(iter(call.store.opportunities.values()))
    new = next(s for s in call.store.opportunity_statuses() if s != opp["status_id"])
    return {"opportunity_id": opp["id"], "new_status_id": new}


@case("log_opportunity_status_change")
async def _(call: Call) -> None:
    args = _opp_change_args(call)
    before = call.store.opportunities[args["opportunity_id"]]["status_id"]
    made = await call("log_opportunity_status_change", args)
    stored = call.store.activities[made["id"]]
    assert stored["_type"] == "OpportunityStatusChange" and stored["new_status_id"] == args["new_status_id"]
    assert call.store.opportunities[args["opportunity_id"]]["status_id"] == before


@case("list_opportunity_status_changes", writes=False)
async def _(call: Call) -> None:
    opp_id = _of(call, "OpportunityStatusChange")["opportunity_id"]
    expected = {
        a["id"]
        for a in call.store.activities.values()
        if a["_type"] == "OpportunityStatusChange" and a.get("opportunity_id") == opp_id
    }
    page = await call("list_opportunity_status_changes", {"opportunity_id": opp_id, "limit": 100})
    assert expected and {a["id"] for a in page["items"]} == expected


@case("get_opportunity_status_change", writes=False)
async def _(call: Call) -> None:
    change = _of(call, "OpportunityStatusChange")
    got = await call("get_opportunity_status_change", {"change_id": change["id"]})
    assert got["id"] == change["id"] and got["new_status_id"] == change["new_status_id"]


@case("delete_opportunity_status_change")
async def _(call: Call) -> None:
    change = _of(call, "OpportunityStatusChange")
    await call("delete_opportunity_status_change", {"change_id": change["id"]})
    assert change["id"] not in call.store.activities


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
unknown_ref("create_note", "lead", {"lead_id": gone("lead"), "note": "Called back"})
unknown_ref("create_email", "lead", {"lead_id": gone("lead"), "status": "draft", "subject": "Hi"})
unknown_ref("create_sms", "lead", {"lead_id": gone("lead"), "status": "draft", "text": "Hi"})
unknown_ref("log_call", "lead", {"lead_id": gone("lead"), "duration": 60})
unknown_ref(
    "create_custom_activity",
    "custom_activity_type",
    lambda store: {"lead_id": next(iter(store.leads)), "activity_type_id": gone("actitype")},
)
unknown_ref(
    "log_lead_status_change",
    "new_status",
    lambda store: {"lead_id": next(iter(store.leads)), "new_status_id": gone("stat")},
)
unknown_ref(
    "log_opportunity_status_change",
    "new_status",
    lambda store: {"opportunity_id": next(iter(store.opportunities)), "new_status_id": gone("stat")},
)
unknown_ref(
    "log_whatsapp_message",
    "contact",
    lambda store: {
        "lead_id": next(iter(store.leads)),
        "contact_id": gone("cont"),
        "direction": "incoming",
        "external_whatsapp_message_id": "wamid.1",
        "local_phone": "+15125550100",
        "remote_phone": "+15125550123",
        "message_markdown": "Hi",
    },
)
revoked_key(
    "list_activities",
    "list_notes",
    "list_calls",
    "list_emails",
    "list_created_activities",
    "list_custom_activities",
    "list_email_threads",
    "list_form_submissions",
    "list_import_updates",
    "list_lead_merges",
    "list_lead_status_changes",
    "list_meetings",
    "list_opportunity_status_changes",
    "list_sms",
    "list_task_completions",
    "list_whatsapp_messages",
)
