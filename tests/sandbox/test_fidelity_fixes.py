"""The sandbox fidelity fixes of the engine rewrite, each over real HTTP."""

from __future__ import annotations

import json
import signal
import sys
from datetime import UTC, datetime, timedelta, timezone

import anyio
import httpx2
import pytest

from close_mcp.sandbox import Sandbox, SandboxConfig, run_sandbox
from close_mcp.sandbox.areas import default_registry
from close_mcp.sandbox.engine import Field, Resource
from close_mcp.sandbox.stats import RequestLog, Stats

pytestmark = pytest.mark.anyio


def _lead_with_types(store, *types: str) -> str:
    return next(
        lid
        for lid in store.leads
        if {a["_type"] for a in store.children_of(lid)["activities"]} >= set(types)
        and len({a["_type"] for a in store.children_of(lid)["activities"]}) > len(types)
    )


async def test_activity_type_filter_takes_a_comma_list(http, sandbox):
    store = sandbox.sandbox.store()
    seeded = {a["_type"] for a in store.activities.values()}
    types = sorted(seeded)[:2]
    lead_id = _lead_with_types(store, *types)
    r = await http.get("/activity/", params={"lead_id": lead_id, "_type": ",".join(types)})
    got = {a["_type"] for a in r.json()["data"]}
    assert got == set(types)


async def test_activity_lead_user_contact_filters_take_comma_lists(http, sandbox):
    store = sandbox.sandbox.store()
    a, b = list(store.leads)[:2]
    r = await http.get("/activity/", params={"lead_id": f"{a},{b}", "_limit": 100})
    leads = {x["lead_id"] for x in r.json()["data"]}
    assert leads == {a, b}
    lead_id = next(
        lid
        for lid in store.leads
        if all(
            len({x[k] for x in store.children_of(lid)["activities"]}) > 1 for k in ("user_id", "contact_id")
        )
    )
    mine = store.children_of(lead_id)["activities"]
    # One real id plus one unknown: the answer must be exactly the real one's activities.
    for key, prefix in (("user_id", "user"), ("contact_id", "cont")):
        wanted = mine[0][key]
        r = await http.get("/activity/", params={"lead_id": lead_id, key: f"{prefix}_none,{wanted}"})
        expected = {x["id"] for x in mine if x[key] == wanted}
        assert {x["id"] for x in r.json()["data"]} == expected and len(expected) < len(mine)


async def test_date_filters_compare_instants_not_strings(http, sandbox):
    store = sandbox.sandbox.store()
    activity = next(iter(store.activities.values()))
    at = datetime.fromisoformat(activity["activity_at"])
    # The same instant written as ...Z and as +02:00: as strings both sort after "+00:00"
    # (ordering of "Z"/"1x" characters), so a string comparison gets __gte and __gt wrong.
    as_z = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    as_plus2 = at.astimezone(timezone(timedelta(hours=2))).isoformat()
    base = {"lead_id": activity["lead_id"], "_limit": 100}

    async def ids(**filters: str) -> set[str]:
        return {x["id"] for x in (await http.get("/activity/", params={**base, **filters})).json()["data"]}

    for same_instant in (as_z, as_plus2):
        assert activity["id"] in await ids(activity_at__gte=same_instant), same_instant
        assert activity["id"] not in await ids(activity_at__gt=same_instant), same_instant
        assert activity["id"] in await ids(activity_at__lte=same_instant), same_instant


async def test_number_and_date_filters_on_a_declared_resource():
    score = Resource(
        "score",
        "Score",
        "/score/",
        "scor",
        fields=(Field("points", "int"), Field("at", "date")),
        filters=("points", "at"),
        order_by=("points",),
    )
    sandbox = Sandbox(SandboxConfig(leads=2), registry=default_registry().with_resources(score))
    async with (
        run_sandbox(sandbox=sandbox) as sb,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as c,
    ):
        for points, at in ((9, "2026-01-01T23:30:00-02:00"), (10, "2026-01-02T00:30:00Z")):
            assert (await c.post("/score/", json={"points": points, "at": at})).status_code == 200

        async def points(**params: str) -> list[int]:
            return [s["points"] for s in (await c.get("/score/", params=params)).json()["data"]]

        assert await points(points__gt="9") == [10]  # as strings "10" < "9"
        assert await points(points__in="9,10", _order_by="-points") == [10, 9]
        assert await points(points="10") == [10]
        # 23:30 at -02:00 is 01:30Z on Jan 2, after 00:30Z: as strings it would sort first.
        assert await points(at__gt="2026-01-02T01:00:00+00:00") == [9]


async def test_ratelimit_header_on_every_response_in_the_observed_form(http):
    r = await http.get("/lead/", params={"_limit": 1})
    assert r.headers["ratelimit"] == "limit=10000; remaining=9999; reset=1"
    assert (r.headers["ratelimit-limit"], r.headers["ratelimit-remaining"]) == ("10000", "9999")
    assert r.headers["ratelimit-reset"] == "1"
    r = await http.get("/lead/lead_missing/")
    assert r.status_code == 404 and r.headers["ratelimit"].startswith("limit=10000; remaining=9998;")


async def test_ratelimit_documented_comma_form_is_an_option():
    config = SandboxConfig(leads=3, header_style="comma", rate_limit=2, rate_window=0.5)
    async with (
        run_sandbox(config) as sb,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as c,
    ):
        r = await c.get("/me/")
        assert r.headers["ratelimit"].startswith("limit=2, remaining=1, reset=0.")  # decimal reset
        assert "ratelimit-limit" not in r.headers


async def test_non_list_emails_is_one_error(http):
    r = await http.post("/contact/", json={"name": "Ada", "emails": "not-a-list"})
    assert r.status_code == 400 and r.json()["field-errors"] == {"emails": "Not a valid list."}
    r = await http.post("/lead/", json={"name": "Co", "contacts": [{"name": "Ada", "phones": "555"}]})
    assert r.json()["field-errors"] == {"contacts.0.phones": "Not a valid list."}


async def test_missing_trailing_slash_is_a_308_before_auth(sandbox):
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as anon:
        r = await anon.get("/lead", params={"_limit": 1})
        assert r.status_code == 308
        assert r.headers["location"] == sandbox.base_url + "/lead/?_limit=1"
        r = await anon.post("/lead", json={"name": "x"})
        assert r.status_code == 308
        assert (await anon.get("/no_such_thing")).status_code == 404
    async with httpx2.AsyncClient(
        base_url=sandbox.base_url, auth=(sandbox.api_key, ""), follow_redirects=True
    ) as c:
        r = await c.post("/lead", json={"name": "Followed Redirect Co"})
        assert r.status_code == 200 and r.json()["name"] == "Followed Redirect Co"  # 308 keeps POST


async def test_request_log_is_bounded_and_counters_stay_exact(http, sandbox):
    sandbox.sandbox.stats = Stats(requests=RequestLog(capacity=5))
    for _ in range(8):
        await http.get("/me/")
    stats = sandbox.sandbox.stats
    assert len(stats.requests) == 8 and len(list(stats.requests)) == 5
    assert stats.count("GET", "/me/") == 8 and stats.statuses[200] == 8
    assert stats.requests[-1]["path"] == "/me/"


async def test_state_file_is_saved_on_sigterm_atomically(tmp_path):
    state = tmp_path / "state.json"
    cmd = [
        sys.executable,
        "-m",
        "close_mcp",
        "sandbox",
        "--port",
        "0",
        "--leads",
        "3",
        "--state-file",
        str(state),
    ]
    async with await anyio.open_process(cmd) as proc:
        assert proc.stderr is not None
        assert proc.stdout is not None
        line = b""
        with anyio.fail_after(30):
            while b"\n" not in line:
                line += await proc.stdout.receive()
        base_url = line.decode().split("listening on ")[1].split()[0]
        async with httpx2.AsyncClient(base_url=base_url, auth=("sandbox_demo_api_key", "")) as c:
            lead = (await c.post("/lead/", json={"name": "Saved On Sigterm"})).json()
        proc.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            await proc.wait()
            errors = b"".join([chunk async for chunk in proc.stderr])
    assert b"Traceback" not in errors, errors.decode()
    leads = json.loads(state.read_text())["orgs"][0]["collections"]["leads"]
    assert leads[lead["id"]]["name"] == "Saved On Sigterm"
    assert not list(tmp_path.glob("*.tmp"))
