"""The fidelity bar: Close's own Python client (closeio_api) works against the sandbox."""

from __future__ import annotations

import re

import anyio
import pytest
from closeio_api import API, APIError

from close_mcp.sandbox import FaultRule

pytestmark = pytest.mark.anyio


async def test_official_client_pages_writes_and_rides_out_a_429(sandbox):
    api = API(sandbox.base_url + "/", api_key=sandbox.api_key, max_retries=3)

    def page_all() -> list[str]:
        ids, skip = [], 0
        while True:
            resp = api.get("lead", params={"_skip": skip, "_limit": 100, "_fields": "id"})
            ids += [lead["id"] for lead in resp["data"]]
            skip += 100
            if not resp["has_more"]:
                return ids

    ids = await anyio.to_thread.run_sync(page_all)
    assert len(ids) == len(set(ids)) == 260

    def crud() -> tuple[dict, dict]:
        lead = api.post("lead", data={"name": "Official Client Co", "contacts": [{"name": "Ada"}]})
        updated = api.put("lead/" + lead["id"], data={"description": "via closeio_api"})
        api.delete("lead/" + lead["id"])
        return lead, updated

    lead, updated = await anyio.to_thread.run_sync(crud)
    assert updated["description"] == "via closeio_api"
    assert lead["id"] not in sandbox.sandbox.store().leads
    with pytest.raises(APIError):
        await anyio.to_thread.run_sync(lambda: api.get("lead/" + lead["id"]))

    sandbox.sandbox.faults.add(FaultRule("rate_limit", path="/me/", reset=1, times=1))
    seen: list[float] = []
    original = api._get_rate_limit_sleep_time

    def spy(response):  # record what the official client derived from our 429
        # The live form (semicolons, integer reset) is the default, as Close sends it; closeio's
        # comma-only regex misses it and falls back to retry-after (close-api.md §1.5), as against Close.
        header = response.headers["RateLimit"]
        assert re.fullmatch(r"limit=\d+; remaining=0; reset=\d+", header), header
        assert not re.match(r"limit=(\d+), remaining=(\d+), reset=(\d+)", header)
        assert response.headers["retry-after"] == "1"
        seen.append(original(response))
        return seen[-1]

    api._get_rate_limit_sleep_time = spy
    me = await anyio.to_thread.run_sync(lambda: api.get("me"))
    assert me["id"].startswith("user_") and seen == [1.0]  # it slept what retry-after said, then succeeded
    assert sandbox.sandbox.stats.served_429 == 1


# One list endpoint per area of Close's API, read by the official client as it pages a list.
AREA_LISTS = [
    "contact",
    "opportunity",
    "task",
    "activity",
    "activity/sms",
    "activity/meeting",
    "custom_field/lead",
    "custom_field/activity",
    "custom_object_type",
    "custom_activity",
    "status/lead",
    "status/opportunity",
    "pipeline",
    "outcome",
    "saved_search",
    "integration_link",
    "form",
    "email_template",
    "sms_template",
    "sequence",
    "send_as",
    "unsubscribe/email",
    "connected_account",
    "phone_number",
    "blocked_phone_number",
    "dialer",
    "playbook",
    "scheduling_link",
    "shared_scheduling_link",
    "group",
    "role",
    "user",
    "event",
    "export",
    "bulk_action/edit",
    "report/activity/metrics",
]


async def test_official_client_reads_every_area(shared_sandbox):
    api = API(shared_sandbox.base_url + "/", api_key=shared_sandbox.api_key, max_retries=1)

    def read_all() -> dict[str, object]:
        return {path: api.get(path) for path in AREA_LISTS}

    answers = await anyio.to_thread.run_sync(read_all)
    for path, body in answers.items():
        assert isinstance(body, dict) and body, path
        data = body.get("data", body)
        assert data, f"{path}: the seed gives every area something to read"


async def test_official_client_writes_and_searches_across_areas(sandbox):
    api = API(sandbox.base_url + "/", api_key=sandbox.api_key, max_retries=1)
    store = sandbox.sandbox.store()
    lead_id = next(lid for lid in store.leads if store.children_of(lid)["contacts"])
    contact_id = store.children_of(lead_id)["contacts"][0]["id"]

    def work() -> dict[str, object]:
        outcome = api.post("outcome", data={"name": "Left voicemail", "applies_to": ["calls"]})
        api.put(f"outcome/{outcome['id']}", data={"name": "Left a voicemail"})
        comment = api.post("comment", data={"object_id": lead_id, "body": "via closeio_api"})
        template = api.post(
            "email_template", data={"name": "Hello", "subject": "Hi {{ lead.display_name }}", "body": "Hello"}
        )
        rendered = api.get(
            f"email_template/{template['id']}/render", params={"lead_id": lead_id, "contact_id": contact_id}
        )
        found = api.post(
            "data/search",
            data={
                "query": {
                    "type": "and",
                    "queries": [
                        {"type": "object_type", "object_type": "lead"},
                        {"type": "id", "value": lead_id},
                    ],
                },
                "_limit": 5,
            },
        )
        api.delete(f"outcome/{outcome['id']}")
        return {"comment": comment, "rendered": rendered, "found": found, "outcome": outcome}

    done = await anyio.to_thread.run_sync(work)
    assert done["comment"]["id"] in store.collection("comments")
    assert store.leads[lead_id]["name"] in done["rendered"]["subject"]
    assert [o["id"] for o in done["found"]["data"]] == [lead_id]
    assert done["outcome"]["id"] not in store.collection("outcomes")
    with pytest.raises(APIError):
        await anyio.to_thread.run_sync(lambda: api.get("outcome/" + done["outcome"]["id"]))
