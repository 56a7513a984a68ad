"""The sandbox over real HTTP: routes, status codes, envelopes, pagination, semantics."""

from __future__ import annotations

import base64
import re

import httpx2
import pytest

from close_mcp.manifest import load_manifests
from close_mcp.sandbox import FaultRule, SandboxConfig, run_sandbox
from close_mcp.sandbox.app import ALL_ROUTES

pytestmark = pytest.mark.anyio


def test_every_manifest_route_exists_in_the_sandbox():
    placeholders = re.compile(r"\{[^}]+\}")  # /group/{id}/member/{user_id}/ has two
    routes = {(placeholders.sub("{}", path), method) for path, handlers in ALL_ROUTES for method in handlers}
    for spec in load_manifests():
        assert (placeholders.sub("{}", spec.path), spec.method) in routes, spec.name


async def test_unknown_path_404_before_auth_and_wrong_method_405(sandbox):
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as anon:
        r = await anon.get("/no_such_thing/")
        assert r.status_code == 404 and "not found" in r.json()["error"]
    async with httpx2.AsyncClient(base_url=sandbox.base_url, auth=(sandbox.api_key, "")) as c:
        r = await c.patch("/lead/")
        assert r.status_code == 405 and "error" in r.json()
        r = await c.delete("/lead/")
        assert r.status_code == 405


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"wrong_key:").decode()},
        {
            "Authorization": "Basic " + base64.b64encode(b"sandbox_demo_api_key:pw").decode()
        },  # password must be blank
        {"Authorization": "Bearer sandbox_demo_api_key"},  # an API key is not a bearer token
        {"Authorization": "Token abc"},
    ],
)
async def test_missing_or_wrong_credentials_401(sandbox, headers):
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=headers) as c:
        r = await c.get("/lead/")
    assert r.status_code == 401 and r.json() == {"error": "Unauthorized"}


async def test_bearer_token_and_basic_key_both_work(sandbox):
    async with httpx2.AsyncClient(
        base_url=sandbox.base_url, headers={"Authorization": f"Bearer {sandbox.api_key}_oauth"}
    ) as c:
        assert (await c.get("/me/")).status_code == 200
    async with httpx2.AsyncClient(base_url=sandbox.base_url, auth=(sandbox.api_key, "")) as c:
        assert (await c.get("/me/")).status_code == 200


async def test_non_json_write_is_415_and_bad_json_400(http):
    r = await http.post(
        "/lead/", content=b"name=x", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 415
    r = await http.post("/lead/", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


async def test_paging_all_leads_no_duplicates_or_gaps(http, sandbox):
    seen, skip = [], 0
    while True:
        r = await http.get("/lead/", params={"_skip": skip, "_limit": 37, "_fields": "id"})
        body = r.json()
        assert r.status_code == 200 and body["total_results"] == 260
        seen += [lead["id"] for lead in body["data"]]
        skip += 37
        if not body["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 260 == len(sandbox.sandbox.store().leads)


async def test_limit_above_max_is_refused_and_bad_skip(http):
    r = await http.get("/lead/", params={"_limit": 201})
    assert r.status_code == 400 and "_limit" in r.json()["field-errors"]
    assert (await http.get("/lead/", params={"_limit": 200})).status_code == 200
    r = await http.get("/lead/", params={"_skip": -1})
    assert r.status_code == 400
    r = await http.get("/lead/", params={"_skip": 40000})
    assert r.status_code == 400 and "max_skip = 35000" in r.json()["error"]


async def test_fields_select_returned_fields_on_reads(http):
    r = await http.get("/lead/", params={"_limit": 2, "_fields": "id,display_name,custom"})
    lead = r.json()["data"][0]
    assert set(lead) - {"id", "display_name"} and all(
        k.startswith("custom.cf_") for k in set(lead) - {"id", "display_name"}
    )
    one = (await http.get(f"/lead/{lead['id']}/", params={"_fields": "name"})).json()
    assert one == {"name": one["name"]}
    events = (await http.get("/event/", params={"_fields": "id,action"})).json()["data"]
    assert events and all(set(e) == {"id", "action"} for e in events)


async def test_shapes_ids_cents_dates(http):
    lead = (await http.get("/lead/", params={"_limit": 1})).json()["data"][0]
    assert lead["id"].startswith("lead_") and len(lead["id"]) == 5 + 43
    assert lead["contacts"][0]["id"].startswith("cont_") and "emails" in lead["contacts"][0]
    assert lead["organization_id"].startswith("orga_") and lead["date_created"].endswith("+00:00")
    assert any(k.startswith("custom.cf_") for k in lead)
    opp = (await http.get("/opportunity/", params={"_limit": 1})).json()["data"][0]
    assert isinstance(opp["value"], int) and opp["id"].startswith("oppo_")
    event = (await http.get("/event/", params={"_limit": 1})).json()["data"][0]
    assert event["id"].startswith("ev_") and len(event["id"]) == 3 + 22 and "+" not in event["date_updated"]


async def test_lead_query_free_text_and_status(http, sandbox):
    store = sandbox.sandbox.store()
    contact = next(iter(store.contacts.values()))
    email = contact["emails"][0]["email"]
    r = (await http.get("/lead/", params={"query": email})).json()
    assert contact["lead_id"] in [lead["id"] for lead in r["data"]]
    r = (await http.get("/lead/", params={"query": 'status:"Customer"', "_limit": 200})).json()
    assert r["total_results"] > 0 and all(lead["status_label"] == "Customer" for lead in r["data"])
    phone = contact["phones"][0]["phone"][-7:]
    assert contact["lead_id"] in [
        x["id"] for x in (await http.get("/lead/", params={"query": phone})).json()["data"]
    ]


async def test_create_validation_and_partial_update(http):
    r = await http.post("/lead/", json={"name": "Acme", "status": "Nope", "custom.cf_unknown": 1})
    assert r.status_code == 400 and set(r.json()["field-errors"]) == {"status", "custom.cf_unknown"}
    lead = (await http.post("/lead/", json={"name": "Acme", "description": "keep me"})).json()
    r = await http.put(f"/lead/{lead['id']}/", json={"name": "Acme 2"})
    assert r.json()["name"] == "Acme 2" and r.json()["description"] == "keep me"
    assert (await http.put("/lead/lead_missing/", json={"name": "x"})).status_code == 404


async def test_delete_lead_cascades(http, sandbox):
    store = sandbox.sandbox.store()
    lead_id = next(
        lid
        for lid in store.leads
        if store.children_of(lid)["opportunities"] and store.children_of(lid)["tasks"]
    )
    children = store.children_of(lead_id)
    assert (await http.delete(f"/lead/{lead_id}/")).json() == {}
    assert (await http.get(f"/lead/{lead_id}/")).status_code == 404
    for kind, items in children.items():
        for obj in items:
            assert obj["id"] not in getattr(store, kind)
    deleted = [e for e in store.events if e["action"] == "deleted"]
    assert {e["object_type"] for e in deleted} >= {"lead", "contact", "opportunity", "task"}


async def test_merge_moves_children_and_deletes_source(http, sandbox):
    store = sandbox.sandbox.store()
    source, dest = list(store.leads)[:2]
    moved = [c["id"] for c in store.children_of(source)["contacts"]]
    assert (await http.post("/lead/merge/", json={"source": source, "destination": dest})).status_code == 200
    assert source not in store.leads
    assert all(store.contacts[c]["lead_id"] == dest for c in moved)
    assert store.events[-1]["action"] == "merged"
    r = await http.post("/lead/merge/", json={"source": source, "destination": dest})
    assert r.status_code == 404 and r.json() == {"errors": ["Source lead does not exist."]}


async def test_bulk_task_update_applies_to_every_match(http, sandbox):
    store = sandbox.sandbox.store()
    user = list(store.users)[1]
    open_tasks = [t for t in store.tasks.values() if t["assigned_to"] == user and not t["is_complete"]]
    r = await http.put(
        "/task/", params={"assigned_to": user, "is_complete": "false"}, json={"is_complete": True}
    )
    assert r.status_code == 200
    assert open_tasks and all(store.tasks[t["id"]]["is_complete"] for t in open_tasks)
    completed = {e["object_id"] for e in store.events if e["action"] == "completed"}
    assert {t["id"] for t in open_tasks} <= completed
    r = await http.put("/task/", json={"_params": {"id__in": open_tasks[0]["id"]}, "text": "x"})
    assert r.status_code == 400 and "text" in r.json()["field-errors"]


async def test_outbox_email_is_sent(http, sandbox):
    lead_id = next(iter(sandbox.sandbox.store().leads))
    r = await http.post("/activity/email/", json={"lead_id": lead_id, "status": "outbox"})
    assert r.status_code == 400 and "sender" in r.json()["field-errors"]
    r = await http.post(
        "/activity/email/",
        json={
            "lead_id": lead_id,
            "status": "outbox",
            "sender": "a@b.co",
            "to": ["x@y.co"],
            "subject": "Hi",
            "body_text": "Hello",
        },
    )
    assert r.json()["status"] == "sent" and r.json()["date_sent"]
    assert sandbox.sandbox.store().events[-1]["object_type"] == "activity.email"
    assert sandbox.sandbox.store().events[-1]["action"] == "sent"


async def test_webhook_limit_and_signature_key(http):
    created = []
    for i in range(40):
        r = await http.post(
            "/webhook/",
            json={
                "url": f"https://example.com/{i}",
                "events": [{"object_type": "lead", "action": "created"}],
            },
        )
        assert r.status_code == 201
        created.append(r.json())
    assert all(len(h["signature_key"]) == 64 for h in created)
    r = await http.post(
        "/webhook/",
        json={"url": "https://example.com/41", "events": [{"object_type": "lead", "action": "created"}]},
    )
    assert r.status_code == 400 and r.json()["errors"]


async def test_event_log_cursor_pagination_and_filters(http):
    for i in range(60):
        await http.post("/lead/", json={"name": f"Event Co {i}"})
    seen, cursor = [], None
    while True:
        params = {"_limit": 25, **({"_cursor": cursor} if cursor else {})}
        body = (await http.get("/event/", params=params)).json()
        assert len(body["data"]) <= 25
        seen += [e["id"] for e in body["data"]]
        cursor = body["cursor_next"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 60
    assert (await http.get("/event/", params={"_limit": 500})).json()["data"].__len__() == 50
    r = await http.get("/event/", params={"object_type": "lead"})
    assert r.status_code == 400  # object_type alone is not an allowed combination
    r = await http.get("/event/", params={"object_type": "lead", "action": "created", "_limit": 5})
    assert all(e["object_type"] == "lead" and e["action"] == "created" for e in r.json()["data"])
    assert (await http.get("/event/", params={"_cursor": "garbage"})).status_code == 400


async def test_event_retention_is_30_days(http, sandbox):
    from datetime import timedelta

    from close_mcp.sandbox.ids import iso_naive, now_utc

    store = sandbox.sandbox.store()
    old = dict(
        store.events[0],
        id="ev_old0000000000000000000",
        date_updated=iso_naive(now_utc() - timedelta(days=31)),
    )
    store.events.insert(0, old)
    ids = set()
    cursor = None
    while True:
        body = (await http.get("/event/", params={"_cursor": cursor} if cursor else {})).json()
        ids |= {e["id"] for e in body["data"]}
        cursor = body["cursor_next"]
        if not cursor:
            break
    assert old["id"] not in ids


@pytest.mark.parametrize("style,legacy", [("comma", "none"), ("semicolon", "top"), ("comma", "error")])
async def test_rate_limit_429_header_and_bodies(style, legacy):
    config = SandboxConfig(leads=5, rate_limit=3, header_style=style, legacy_429_body=legacy, rate_window=30)
    async with (
        run_sandbox(config) as sb,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as c,
    ):
        responses = [await c.get("/me/") for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        sep = ";" if style == "semicolon" else ","
        assert responses[0].headers["ratelimit"].startswith(f"limit=3{sep} remaining=2{sep} reset=")
        limited = responses[-1]
        assert "remaining=0" in limited.headers["ratelimit"] and int(limited.headers["retry-after"]) >= 1
        body = limited.json()
        if legacy == "top":
            assert isinstance(body["rate_reset"], str) and body["rate_limit"] == 3
            assert (
                body["rate_window"] == 30
            )  # the window's length, an integer as observed (close-api.md §1.3)
        elif legacy == "error":
            assert isinstance(body["error"]["rate_reset"], float) and body["error"]["rate_window"] == 30
        # writes are a separate endpoint group
        assert (await c.post("/lead/", json={"name": "x"})).status_code == 200
        assert sb.sandbox.stats.served_429 == 1
        assert (await c.get("/me/")).status_code == 429  # the same window: two 429s in it
        admin = await c.get(sb.base_url.removesuffix("/api/v1") + "/_sandbox/stats")
        refusals = {k: admin.json()[k] for k in ("windows_with_429", "most_429_in_one_window")}
        assert refusals == {"windows_with_429": 1, "most_429_in_one_window": 2}
        (window,) = admin.json()["429_by_window"]
        assert window["group"] == "read" and window["limit_type"] == "key" and window["count"] == 2
        assert sb.api_key not in admin.text  # counted per key, never named


async def test_org_bucket_is_three_times_the_key_limit():
    config = SandboxConfig(leads=3, organizations=1, rate_limit=2, api_keys=["k1"], rate_window=5)
    async with run_sandbox(config) as sb:
        sb.sandbox.credentials.update(
            {
                k: type(v)(k, 0, v.user_id, "api_key")
                for k, v in [
                    ("k2", sb.sandbox.credentials["k1"]),
                    ("k3", sb.sandbox.credentials["k1"]),
                    ("k4", sb.sandbox.credentials["k1"]),
                ]
            }
        )
        statuses = []
        for key in ["k1", "k2", "k3", "k4"]:
            async with httpx2.AsyncClient(base_url=sb.base_url, auth=(key, "")) as c:
                statuses += [(await c.get("/me/")).status_code for _ in range(2)]
        assert statuses.count(200) == 6 and statuses[-2:] == [429, 429]


async def test_faults_status_latency_and_drops(http, sandbox):
    faults = sandbox.sandbox.faults
    faults.add(FaultRule("status", path="/lead/", method="GET", status=503))
    assert (await http.get("/lead/")).status_code == 503
    assert (await http.get("/lead/")).status_code == 200  # times=1
    faults.add(FaultRule("drop_before", path="/lead/", method="POST"))
    with pytest.raises(httpx2.TransportError):
        await http.post("/lead/", json={"name": "Never Made"})
    faults.add(FaultRule("drop_after", path="/lead/", method="POST"))
    with pytest.raises(httpx2.TransportError):
        await http.post("/lead/", json={"name": "Made Anyway"})
    names = {lead["name"] for lead in sandbox.sandbox.store().leads.values()}
    assert "Made Anyway" in names and "Never Made" not in names
    faults.add(FaultRule("rate_limit", path="/me/", reset=2))
    r = await http.get("/me/")
    assert r.status_code == 429 and "reset=2" in r.headers["ratelimit"] and r.headers["retry-after"] == "2"


async def test_admin_endpoint_adds_faults_and_reports_stats(http, sandbox):
    base = sandbox.base_url.removesuffix("/api/v1")
    async with httpx2.AsyncClient(base_url=base, auth=(sandbox.api_key, "")) as admin:
        r = await admin.post("/_sandbox/faults", json={"kind": "status", "path": "/me/", "status": 502})
        assert r.status_code == 200
        assert (await http.get("/me/")).status_code == 502
        stats = (await admin.get("/_sandbox/stats")).json()
        assert stats["statuses"]["502"] == 1
        assert (await admin.post("/_sandbox/faults", json={"kind": "explode"})).status_code == 400
        assert (await admin.post("/_sandbox/faults", content=b"{not json")).status_code == 400
        assert (await admin.post("/_sandbox/faults", json=[1])).status_code == 400
    async with httpx2.AsyncClient(base_url=base) as anon:
        assert (await anon.get("/_sandbox/stats")).status_code == 401


async def test_restricted_user_gets_403_on_admin_writes(sandbox):
    async with httpx2.AsyncClient(base_url=sandbox.base_url, auth=(f"{sandbox.api_key}_restricted", "")) as c:
        r = await c.post("/custom_field/lead/", json={"name": "X", "type": "text"})
        assert r.status_code == 403
        assert (await c.get("/lead/", params={"_limit": 1})).status_code == 200


async def test_state_file_survives_restart(tmp_path):
    state = tmp_path / "state.json"
    async with (
        run_sandbox(SandboxConfig(leads=5), state_file=state) as sb,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as c,
    ):
        lead = (await c.post("/lead/", json={"name": "Persistent Co"})).json()
    async with (
        run_sandbox(SandboxConfig(leads=5), state_file=state) as sb,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as c,
    ):
        assert (await c.get(f"/lead/{lead['id']}/")).json()["name"] == "Persistent Co"
        assert (await c.post("/lead/", json={"name": "New after restart"})).status_code == 200


async def test_two_organizations_are_isolated():
    async with run_sandbox(SandboxConfig(leads=4, organizations=2)) as sb:
        key_a, key_b = sb.sandbox.key_for_org(0), sb.sandbox.key_for_org(1)
        async with (
            httpx2.AsyncClient(base_url=sb.base_url, auth=(key_a, "")) as a,
            httpx2.AsyncClient(base_url=sb.base_url, auth=(key_b, "")) as b,
        ):
            lead = (await a.post("/lead/", json={"name": "Only In A"})).json()
            assert (await b.get(f"/lead/{lead['id']}/")).status_code == 404
            ids_b = {x["id"] for x in (await b.get("/lead/")).json()["data"]}
            assert lead["id"] not in ids_b
