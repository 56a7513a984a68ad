"""End-to-end cases for the bulk action tools: each job is created, run by reading it (the sandbox
advances a job one step per GET) and its effect checked in the store."""

from __future__ import annotations

from typing import Any

from e2e_cases.registry import BAD_REQUEST, Call, case, close_error, gone, revoked_key, unknown_ref

LEADS = {"type": "object_type", "object_type": "lead"}


def only(*lead_ids: str) -> dict[str, Any]:
    return {"type": "and", "queries": [LEADS, {"type": "id", "values": list(lead_ids)}]}


async def run_job(call: Call, tool: str, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = {}
    for _ in range(2):
        job = await call(tool, {"bulk_action_id": job_id})
    return job


def seeded(call: Call, collection: str) -> set[str]:
    return set(call.store.collection(collection))


# ----- delete ---------------------------------------------------------------------------------
@case("list_bulk_deletes", writes=False)
async def _(call: Call) -> None:
    page = await call("list_bulk_deletes", {})
    assert {j["id"] for j in page["items"]} == seeded(call, "bulk_deletes") != set()


@case("get_bulk_delete")
async def _(call: Call) -> None:
    job_id = next(iter(call.store.collection("bulk_deletes")))
    job = await call("get_bulk_delete", {"bulk_action_id": job_id})
    assert job["id"] == job_id and job["status"] == "done" and "_lead_ids" not in job


@case("delete_leads_in_bulk")
async def _(call: Call) -> None:
    picked = list(call.store.leads)[:2]
    job = await call("delete_leads_in_bulk", {"s_query": only(*picked)})
    assert job["status"] == "created" and job["n_leads"] == 2 and all(i in call.store.leads for i in picked)
    assert (await run_job(call, "get_bulk_delete", job["id"]))["status"] == "done"
    assert not any(i in call.store.leads for i in picked)


# ----- edit -----------------------------------------------------------------------------------
@case("list_bulk_edits", writes=False)
async def _(call: Call) -> None:
    page = await call("list_bulk_edits", {})
    assert {j["id"] for j in page["items"]} == seeded(call, "bulk_edits") != set()


@case("get_bulk_edit")
async def _(call: Call) -> None:
    job_id = next(iter(call.store.collection("bulk_edits")))
    job = await call("get_bulk_edit", {"bulk_action_id": job_id})
    assert job["id"] == job_id and job["type"] == "set_lead_status"


@case("update_leads_in_bulk")
async def _(call: Call) -> None:
    lead_id = next(iter(call.store.leads))
    target = next(s for s in call.store.lead_statuses if s != call.store.leads[lead_id]["status_id"])
    body = {"s_query": only(lead_id), "type": "set_lead_status", "lead_status_id": target}
    job = await call("update_leads_in_bulk", body)
    await run_job(call, "get_bulk_edit", job["id"])
    assert call.store.leads[lead_id]["status_id"] == target


# ----- email ----------------------------------------------------------------------------------
@case("list_bulk_emails", writes=False)
async def _(call: Call) -> None:
    page = await call("list_bulk_emails", {})
    assert {j["id"] for j in page["items"]} == seeded(call, "bulk_emails") != set()


@case("get_bulk_email")
async def _(call: Call) -> None:
    job_id = next(iter(call.store.collection("bulk_emails")))
    assert (await call("get_bulk_email", {"bulk_action_id": job_id}))["template_id"] == "tmpl_sandboxWelcome"


@case("send_bulk_email")
async def _(call: Call) -> None:
    store = call.store
    lead_id = next(i for i in store.leads if any(c.get("emails") for c in store.children_of(i)["contacts"]))
    template = next(iter(call.store.collection("email_templates")))  # seeded by the templates area
    job = await call("send_bulk_email", {"s_query": only(lead_id), "template_id": template})
    await run_job(call, "get_bulk_email", job["id"])
    outbox = [e for e in store.collection("sandbox_outbox").values() if e["bulk_action_id"] == job["id"]]
    assert [(e["lead_id"], e["template_id"]) for e in outbox] == [(lead_id, template)]


# ----- sequence subscription ------------------------------------------------------------------
@case("list_bulk_sequence_subscriptions", writes=False)
async def _(call: Call) -> None:
    page = await call("list_bulk_sequence_subscriptions", {})
    assert {j["id"] for j in page["items"]} == seeded(call, "bulk_sequence_subscriptions") != set()


@case("get_bulk_sequence_subscription")
async def _(call: Call) -> None:
    job_id = next(iter(call.store.collection("bulk_sequence_subscriptions")))
    job = await call("get_bulk_sequence_subscription", {"bulk_action_id": job_id})
    assert job["id"] == job_id and job["action_type"] == "subscribe"


@case("enroll_leads_in_sequence")
async def _(call: Call) -> None:
    store = call.store
    lead_id = next(i for i in store.leads if any(c.get("emails") for c in store.children_of(i)["contacts"]))
    sequence = next(iter(call.store.collection("sequences")))  # seeded by the sequences area
    body = {"s_query": only(lead_id), "sequence_id": sequence, "sender_account_id": "emailacct_x"}
    body.update(sender_name="Sandbox Sender", sender_email="sender@example.com", contact_preference="contact")
    job = await call("enroll_leads_in_sequence", body)
    await run_job(call, "get_bulk_sequence_subscription", job["id"])
    enrolled = {e["contact_id"] for e in store.collection("sandbox_sequence_enrolments").values()}
    assert enrolled == {c["id"] for c in store.children_of(lead_id)["contacts"] if c.get("emails")}


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
EVERY_LEAD = {"type": "object_type", "object_type": "lead"}
close_error(
    "delete_leads_in_bulk",
    {"s_query": {"type": "and", "queries": []}},  # selects no object type
    BAD_REQUEST,
    "object_type clause",
)
unknown_ref(
    "enroll_leads_in_sequence",
    "sequence",
    {
        "s_query": EVERY_LEAD,
        "action_type": "subscribe",
        "sequence_id": gone("seq"),
        "sender_account_id": gone("emailacct"),
        "sender_name": "Dana",
        "sender_email": "dana@acme-demo.example",
    },
)
unknown_ref("send_bulk_email", "template", {"s_query": EVERY_LEAD, "template_id": gone("tmpl")})
unknown_ref(
    "update_leads_in_bulk",
    "lead_status",
    {"s_query": EVERY_LEAD, "type": "set_lead_status", "lead_status_id": gone("stat")},
)
revoked_key("list_bulk_deletes", "list_bulk_edits", "list_bulk_emails", "list_bulk_sequence_subscriptions")
