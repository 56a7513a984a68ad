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
