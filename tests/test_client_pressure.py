"""The shared client under pressure: shared 429 pauses, pacing, budgets, safe retries, cancellation."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from conftest import connect, payload, text_of

from close_mcp.client import CloseClient, RetryPolicy
from close_mcp.credentials import Credential
from close_mcp.errors import CloseError, RateLimitBudgetExceeded, RequestNotSent, ResponseLost
from close_mcp.ratelimit import parse_ratelimit, reset_after_429
from close_mcp.sandbox import FaultRule, SandboxConfig, run_sandbox

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "header,expected",
    [
        ("limit=100, remaining=50, reset=5", (100, 50, 5.0)),
        ("limit=100; remaining=99; reset=0.25", (100, 99, 0.25)),
        ("reset=1.5, limit=16, remaining=0", (16, 0, 1.5)),
        ("limit=60, remaining=59, reset=1, w=1", (60, 59, 1.0)),
        ("garbage", None),
        ("", None),
    ],
)
def test_parse_ratelimit(header, expected):
    info = parse_ratelimit(header)
    assert (info and (info.limit, info.remaining, info.reset)) == expected


@pytest.mark.parametrize(
    "headers,body,expected",
    [
        ({"ratelimit": "limit=5, remaining=0, reset=2.5", "retry-after": "3"}, None, 2.5),
        ({"retry-after": "3"}, {"rate_reset": 0.5}, 3.0),
        ({}, {"rate_reset": "0.595956"}, 0.595956),
        ({}, {"error": {"rate_reset": 0.87}}, 0.87),
        ({}, {"error": "nope"}, 1.0),
    ],
)
def test_reset_sources_in_order_of_trust(headers, body, expected):
    assert reset_after_429(httpx2.Headers(headers), body) == pytest.approx(expected)


async def test_50_concurrent_calls_under_a_5_per_second_limit():
    async with run_sandbox(SandboxConfig(leads=30, rate_limit=5)) as sb, connect(sb) as client:
        results = []

        async def one(i: int) -> None:
            results.append(await client.call_tool("get_current_user", {}))

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(one, i)
        assert len(results) == 50 and not any(r.is_error for r in results)
        # The sandbox enforces 5/s: had the client not paced the 50 calls, most would have drawn a 429.
        assert sb.sandbox.stats.served_429 <= 2, sb.sandbox.stats.served_429
        assert sb.sandbox.stats.count("GET", "/me/") == 50 + sb.sandbox.stats.served_429


async def test_forced_429_with_reset_2_waits_then_succeeds(sandbox, mcp):
    sandbox.sandbox.faults.add(FaultRule("rate_limit", path="/me/", reset=2))
    progress: list[float] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(p)

    result = await mcp.call_tool("get_current_user", {}, progress_callback=on_progress)
    assert not result.is_error
    assert progress, "a rate-limit wait reports progress when the client sent a progress token"
    assert progress[-1] == pytest.approx(2, abs=0.1)  # it waited the reset the 429 named, once
    assert sandbox.sandbox.stats.count("GET", "/me/") == 2  # the 429, then the retry


async def test_legacy_body_only_429_is_honoured():
    async with run_sandbox(SandboxConfig(leads=5, legacy_429_body="error")) as sb:
        sb.sandbox.faults.add(
            FaultRule(
                "status",
                path="/me/",
                status=429,
                body={"error": {"message": "slow down", "rate_reset": "1.2", "rate_endpoint_group": "abc"}},
            )
        )
        waits: list[float] = []

        async def on_wait(seconds: float) -> None:
            waits.append(seconds)

        async with CloseClient(Credential(sb.api_key), sb.base_url) as client:
            await client.request("GET", "/me/", on_wait=on_wait)
        assert waits and waits[0] == pytest.approx(1.2, abs=0.05)  # the legacy body's rate_reset
        assert sb.sandbox.stats.count("GET", "/me/") == 2


async def test_budget_shorter_than_reset_fails_at_once(sandbox):
    sandbox.sandbox.faults.add(FaultRule("rate_limit", path="/me/", reset=30))
    async with connect(sandbox, wait_budget=5) as client:
        result = await client.call_tool("get_current_user", {})
    assert sandbox.sandbox.stats.count("GET", "/me/") == 1  # the 429 only: no retry was attempted
    assert result.is_error and "wait 30.0 s" in text_of(result) and "5 s wait budget" in text_of(result)


async def test_one_429_pauses_every_waiter_in_the_bucket(sandbox):
    sandbox.sandbox.faults.add(FaultRule("rate_limit", path="/lead/", method="GET", reset=1))
    async with CloseClient(Credential(sandbox.api_key), sandbox.base_url) as client:

        async def get() -> None:
            await client.request("GET", "/lead/", params={"_limit": "1"})

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(get)
    assert sandbox.sandbox.stats.served_429 == 1
    assert client.requests_sent == 21  # the 429 once, then each call once: no stampede of retries


@pytest.mark.parametrize("kind", ["drop_before", "drop_after", "status"])
async def test_creates_are_never_doubled(sandbox, mcp, kind):
    store = sandbox.sandbox.store()
    sandbox.sandbox.faults.add(FaultRule(kind, path="/lead/", method="POST", status=503, times=3))
    before = len(store.leads)
    result = await mcp.call_tool("create_lead", {"name": "Exactly Once Co"})
    made = [lead for lead in store.leads.values() if lead["name"] == "Exactly Once Co"]
    if kind == "drop_after":  # written, answer lost: close-mcp found it and answers with it
        assert not result.is_error and payload(result)["id"] == made[0]["id"]
        assert "Done:" in payload(result)["notice"]
    else:  # not written: close-mcp checked and says so
        assert (
            result.is_error
            and "Not done" in text_of(result)
            and "safe to call create_lead" in text_of(result)
        )
    assert len(made) == (1 if kind == "drop_after" else 0) and len(store.leads) - before == len(made)
    assert sandbox.sandbox.stats.count("POST", "/lead/") == 1


async def test_gets_recover_from_5xx_and_drops(sandbox):
    sandbox.sandbox.faults.add(FaultRule("status", path="/lead/", method="GET", status=502, times=1))
    sandbox.sandbox.faults.add(FaultRule("drop_before", path="/lead/", method="GET", times=1))
    sandbox.sandbox.faults.add(FaultRule("status", path="/lead/", method="GET", status=504, times=1))
    async with connect(sandbox) as client:
        result = await client.call_tool("list_leads", {"limit": 3})
    assert not result.is_error and payload(result)["count"] == 3
    assert sandbox.sandbox.stats.count("GET", "/lead/") == 4


async def test_gets_give_up_with_a_clear_message(sandbox):
    sandbox.sandbox.faults.add(FaultRule("status", path="/me/", status=503, times=None))
    async with connect(sandbox, retry=RetryPolicy(attempts=3, base_delay=0.01)) as client:
        result = await client.call_tool("get_current_user", {})
    assert result.is_error and "503" in text_of(result) and "Retry get_current_user later" in text_of(result)
    assert sandbox.sandbox.stats.count("GET", "/me/") == 3


async def test_post_is_retried_only_when_it_was_certainly_not_sent():
    attempts: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        attempts.append(request.method)
        if len(attempts) == 1:
            raise httpx2.ConnectError("refused", request=request)
        if request.url.path.endswith("/task/"):
            raise httpx2.ReadTimeout("slow", request=request)
        return httpx2.Response(200, json={"id": "lead_x"})

    async with CloseClient(
        Credential("k"),
        "http://127.0.0.1:9/api/v1",
        transport=httpx2.MockTransport(handler),
        retry=RetryPolicy(base_delay=0.01),
    ) as client:
        assert (await client.request("POST", "/lead/", json={})).data == {"id": "lead_x"}
        assert attempts == ["POST", "POST"]
        with pytest.raises(ResponseLost):
            await client.request("POST", "/task/", json={})
        assert attempts == ["POST", "POST", "POST"]


async def test_connection_refused_is_request_not_sent():
    async with CloseClient(
        Credential("k"), "http://127.0.0.1:9/api/v1", retry=RetryPolicy(attempts=2, base_delay=0.01)
    ) as c:
        with pytest.raises(RequestNotSent):
            await c.request("GET", "/me/")


async def test_cancellation_stops_waiting_and_in_flight_requests(sandbox, mcp):
    sandbox.sandbox.faults.add(FaultRule("latency", path="/me/", delay=5))
    with anyio.fail_after(3), anyio.move_on_after(0.3) as scope:  # a 5 s stall, cancelled at 0.3 s
        await mcp.call_tool("get_current_user", {})
    assert scope.cancelled_caught
    sandbox.sandbox.faults.clear()
    sandbox.sandbox.faults.add(FaultRule("rate_limit", path="/lead/", reset=10))
    with anyio.move_on_after(0.3) as scope:
        await mcp.call_tool("list_leads", {})
    assert scope.cancelled_caught
    assert not (await mcp.call_tool("list_users", {})).is_error  # the session is still fine


async def test_budget_error_for_waiters_behind_a_long_pause(sandbox):
    sandbox.sandbox.faults.add(FaultRule("rate_limit", path="/lead/", method="GET", reset=20))
    async with CloseClient(Credential(sandbox.api_key), sandbox.base_url, wait_budget=2) as client:
        with pytest.raises(RateLimitBudgetExceeded):
            await client.request("GET", "/lead/")
        with pytest.raises(RateLimitBudgetExceeded) as err:
            await client.request("GET", "/lead/")  # the shared pause is known: no request is spent
        assert err.value.wait_seconds > 15
    assert sandbox.sandbox.stats.count("GET", "/lead/") == 1


def test_a_429_naming_its_endpoint_group_merges_buckets():
    from close_mcp.ratelimit import RateLimiter

    limiter = RateLimiter()
    leads = limiter.bucket("k", "GET", "/lead/")
    tasks = limiter.bucket("k", "GET", "/task/")
    assert leads is not tasks and limiter.bucket("other-key", "GET", "/lead/") is not leads
    merged = limiter.learn_group("k", "GET", "/lead/", "grp1")
    merged.pause(5)
    assert limiter.learn_group("k", "GET", "/task/", "grp1") is merged
    assert limiter.bucket("k", "GET", "/task/").paused_until == merged.paused_until
    assert (
        limiter.bucket("k", "GET", "/lead/1/") is merged
        and limiter.bucket("k", "POST", "/lead/") is not merged
    )


async def test_a_429_saying_reset_0_never_becomes_a_request_loop(sandbox):
    """Close's reset can read 0: the pause has a floor, a call has a request cap and a deadline."""
    sandbox.sandbox.faults.add(FaultRule("rate_limit", path="/me/", reset=0, times=None))
    async with connect(sandbox, wait_budget=2) as client:
        with anyio.fail_after(10):  # the call ends by itself, well within this bound
            result = await client.call_tool("get_current_user", {})
    sent = sandbox.sandbox.stats.count("GET", "/me/")
    assert result.is_error and 2 <= sent <= 6, sent  # ≥ 0.5 s between tries within a 2 s budget
    assert "No request went through (Close answered 429 to each)" in text_of(result)
    assert "of its 2 s wait budget is left" in text_of(result)


async def test_a_stalled_close_is_cut_at_the_calls_deadline(sandbox):
    """Wait budget 1 s + HTTP timeout 2 s: a 30 s stall ends the call at its deadline, not at 30 s."""
    sandbox.sandbox.faults.add(FaultRule("latency", path="/me/", delay=30, times=None))
    async with CloseClient(
        Credential(sandbox.api_key), sandbox.base_url, wait_budget=1, timeout=2, retry=RetryPolicy(attempts=5)
    ) as client:
        with anyio.fail_after(10), pytest.raises(CloseError) as err:
            await client.request("GET", "/me/")
    assert err.value.attempts >= 1 and sandbox.sandbox.stats.count("GET", "/me/") <= 2
