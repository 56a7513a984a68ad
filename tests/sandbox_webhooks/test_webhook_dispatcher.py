"""The dispatcher against a real receiver on loopback: signing, matching, order, retries,
timeouts, pauses, the backlog cap, the URL policy and a clean stop."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import anyio
import pytest

from close_mcp.sandbox.webhook_delivery import DeliveryPolicy, DeliveryRecord, WebhookDispatcher

from ._receiver import ENDLESS, HANG, REDIRECT, Receiver, make_event, wait_for
from .conftest import FAST

pytestmark = pytest.mark.anyio

LEAD_ALL = [{"object_type": "lead", "action": a} for a in ("created", "updated", "deleted", "merged")]


def records(d: WebhookDispatcher, sub: dict[str, Any]) -> list[DeliveryRecord]:
    return [r for r in d.deliveries if r.subscription_id == sub["id"]]


async def settled(d: WebhookDispatcher, sub: dict[str, Any], delivered: int) -> None:
    """Wait for the dispatcher's own record: the receiver logs a hit before its answer reaches us."""
    await wait_for(lambda: d.health(sub["id"])["counters"].get("delivered", 0) == delivered)


async def test_signed_deliveries_for_created_updated_deleted_merged(receiver: Receiver) -> None:
    sub = receiver.subscription("a", LEAD_ALL)
    events = [
        make_event("lead", "created"),
        make_event("lead", "updated", changed_fields=["name"], previous_data={"name": "Old"}),
        make_event("lead", "deleted"),
        make_event(
            "lead",
            "merged",
            meta={
                "request_method": "POST",
                "request_path": "/api/v1/lead/merge/",
                "merge_source_lead_id": "lead_s",
            },
        ),
    ]
    async with WebhookDispatcher(FAST) as d:
        for event in events:
            assert d.submit(event, [sub]) == [sub["id"]]
        await settled(d, sub, 4)
    hits = receiver.to("a")
    assert [h.payload for h in hits] == [{"event": e, "subscription_id": sub["id"]} for e in events]
    assert all(h.verified for h in hits)
    assert all(h.headers["content-type"] == "application/json" for h in hits)
    assert all(h.headers["close-sig-timestamp"].isdigit() for h in hits)
    assert sub["counters"] == {"delivered": 4}
    assert [r.outcome for r in records(d, sub)] == ["delivered"] * 4


async def test_receiver_rejects_a_wrong_key(receiver: Receiver) -> None:
    """The receiver's check can fail: a subscription whose key it does not know is unverified."""
    sub = receiver.subscription("a", LEAD_ALL)
    receiver.keys[sub["id"]] = "11" * 32
    async with WebhookDispatcher(FAST) as d:
        d.submit(make_event(), [sub])
        await wait_for(lambda: receiver.to("a"))
    assert not receiver.to("a")[0].verified


async def test_unsubscribed_types_and_actions_are_not_delivered(receiver: Receiver) -> None:
    sub = receiver.subscription("a", [{"object_type": "lead", "action": "created"}])
    marker = make_event("lead", "created")
    async with WebhookDispatcher(FAST) as d:
        assert d.submit(make_event("contact", "created"), [sub]) == []
        assert d.submit(make_event("lead", "updated"), [sub]) == []
        assert d.submit(make_event("activity.note", "created"), [sub]) == []
        assert d.submit(marker, [sub]) == [sub["id"]]
        await wait_for(lambda: receiver.to("a"))
    assert [h.event_id for h in receiver.to("a")] == [marker["id"]]


async def test_extra_filter_is_honoured(receiver: Receiver) -> None:
    won = {
        "type": "field_accessor",
        "field": "data",
        "filter": {
            "type": "field_accessor",
            "field": "status_label",
            "filter": {"type": "equals", "value": "Won"},
        },
    }
    sub = receiver.subscription(
        "won", [{"object_type": "opportunity", "action": "updated", "extra_filter": won}]
    )
    lost = make_event("opportunity", "updated", data={"id": "oppo_1", "status_label": "Lost"})
    deleted = make_event("opportunity", "deleted")
    hit = make_event("opportunity", "updated", data={"id": "oppo_2", "status_label": "Won"})
    async with WebhookDispatcher(FAST) as d:
        assert d.submit(lost, [sub]) == []
        assert d.submit(deleted, [sub]) == []
        assert d.submit(hit, [sub]) == [sub["id"]]
        await wait_for(lambda: receiver.to("won"))
    assert [h.event_id for h in receiver.to("won")] == [hit["id"]]


async def test_order_is_kept_per_subscription_through_retries(receiver: Receiver) -> None:
    receiver.script("a", 500, 200, 503, 200, 502)  # failures at events 1, 3 and 5's first tries
    sub = receiver.subscription("a", LEAD_ALL)
    events = [make_event("lead", "updated") for _ in range(20)]
    async with WebhookDispatcher(FAST) as d:
        for event in events:
            d.submit(event, [sub])
        await wait_for(lambda: len(receiver.delivered_ids("a")) == 20)
    assert receiver.delivered_ids("a") == [e["id"] for e in events]
    assert len(receiver.to("a")) == 23


async def test_500_twice_then_200_is_delivered_exactly_once(receiver: Receiver) -> None:
    receiver.script("a", 500, 500)
    sub = receiver.subscription("a", LEAD_ALL)
    event, later = make_event(), make_event()
    async with WebhookDispatcher(FAST) as d:
        d.submit(event, [sub])
        await wait_for(lambda: receiver.delivered_ids("a"))
        assert sub["latest_error"] == "HTTP 500"
        # A later event comes after the first in this subscription's order: once it has arrived,
        # no further retry of the first can be on its way.
        d.submit(later, [sub])
        await settled(d, sub, 2)
    assert [(h.event_id, h.answered) for h in receiver.to("a")] == [
        (event["id"], 500),
        (event["id"], 500),
        (event["id"], 200),
        (later["id"], 200),
    ]
    assert all(h.verified for h in receiver.to("a"))
    assert [(r.attempt, r.status, r.outcome) for r in records(d, sub) if r.event_id == event["id"]] == [
        (1, 500, "retrying"),
        (2, 500, "retrying"),
        (3, 200, "delivered"),
    ]
    assert sub["health_status"] == "healthy" and sub["recent_consecutive_fail_buckets_cnt"] == 0
    assert sub["counters"] == {"delivered": 2, "failed_attempts": 2}


async def test_health_fields_while_failing(receiver: Receiver) -> None:
    receiver.script("a", *[500] * 1000)
    sub = receiver.subscription("a", LEAD_ALL)
    async with WebhookDispatcher(replace(FAST, fail_bucket=1e9)) as d:  # no bucket edge during the test
        d.submit(make_event(), [sub])
        await wait_for(lambda: d.health(sub["id"])["counters"].get("failed_attempts", 0) >= 2)
        assert len(receiver.to("a")) >= 2
        assert sub["health_status"] == "unhealthy"
        assert sub["recent_consecutive_fail_buckets_cnt"] == 1  # several failures, one bucket
        assert sub["latest_error"] == "HTTP 500"
        assert d.backlog(sub["id"]) == 1


async def test_a_hanging_receiver_times_out_and_is_retried(receiver: Receiver) -> None:
    receiver.script("a", HANG)
    sub = receiver.subscription("a", LEAD_ALL)
    event = make_event()
    async with WebhookDispatcher(replace(FAST, timeout=0.3)) as d:
        d.submit(event, [sub])
        await settled(d, sub, 1)
    assert [h.answered for h in receiver.to("a")] == [HANG, 200]
    first, second = records(d, sub)
    assert (first.attempt, first.status, first.outcome) == (1, None, "retrying")
    assert first.error is not None and first.error.startswith("Timed out")
    assert (second.attempt, second.status, second.outcome) == (2, 200, "delivered")


async def test_one_hanging_subscription_does_not_hold_up_another(receiver: Receiver) -> None:
    receiver.script("slow", HANG)
    slow = receiver.subscription("slow", LEAD_ALL)
    fast = receiver.subscription("fast", LEAD_ALL)
    event = make_event()
    async with WebhookDispatcher(replace(FAST, timeout=30)) as d:
        assert d.submit(event, [slow, fast]) == [slow["id"], fast["id"]]
        await settled(d, fast, 1)
        await wait_for(lambda: receiver.to("slow"))
        assert d.backlog(slow["id"]) == 1 and d.backlog(fast["id"]) == 0


async def test_connection_refused_is_retried_with_the_error_recorded(receiver: Receiver) -> None:
    from close_mcp.uvicorn_runner import bind

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    sub = receiver.subscription("a", LEAD_ALL, url=f"http://127.0.0.1:{port}/hooks/a")
    async with WebhookDispatcher(FAST) as d:
        d.submit(make_event(), [sub])
        await wait_for(lambda: len(records(d, sub)) >= 2)
    assert all(r.outcome == "retrying" and r.status is None for r in records(d, sub)[:2])
    assert sub["latest_error"].startswith("Connection error: ConnectError")


async def test_events_past_max_age_are_dropped(receiver: Receiver) -> None:
    receiver.script("a", *[500] * 1000)
    sub = receiver.subscription("a", LEAD_ALL)
    event = make_event()
    async with WebhookDispatcher(replace(FAST, max_age=0.2)) as d:
        d.submit(event, [sub])
        await wait_for(lambda: any(r.outcome == "dropped" for r in records(d, sub)))
        assert d.backlog(sub["id"]) == 0
    last = records(d, sub)[-1]
    assert (last.event_id, last.status, last.outcome) == (event["id"], 500, "dropped")
    assert sub["counters"]["dropped"] == 1


async def test_paused_subscriptions_receive_nothing(receiver: Receiver) -> None:
    sub = receiver.subscription("a", LEAD_ALL, status="paused", pause_reason="api")
    async with WebhookDispatcher(FAST) as d:
        assert d.submit(make_event(), [sub]) == []
        assert d.backlog(sub["id"]) == 0
        sub.update(status="active", pause_reason=None)  # reactivated through the API
        d.update(sub)
        marker = make_event()
        assert d.submit(marker, [sub]) == [sub["id"]]
        await wait_for(lambda: receiver.to("a"))
    # Per-subscription order: had anything been queued while paused, it would have come first.
    assert [h.event_id for h in receiver.to("a")] == [marker["id"]]


async def test_pausing_drops_what_is_queued(receiver: Receiver) -> None:
    receiver.script("a", *[500] * 1000)
    sub = receiver.subscription("a", LEAD_ALL)
    queued = [make_event() for _ in range(3)]
    async with WebhookDispatcher(replace(FAST, base_delay=30, max_delay=30)) as d:
        for event in queued:
            d.submit(event, [sub])
        await wait_for(lambda: receiver.to("a"))  # the first is failing, waiting 30 s to retry
        sub.update(status="paused", pause_reason="api")
        d.update(sub)  # wakes the lane: the backoff ends at once
        await wait_for(lambda: d.backlog(sub["id"]) == 0)
        receiver.scripts["a"].clear()
        sub.update(status="active", pause_reason=None)
        d.update(sub)
        marker = make_event()
        d.submit(marker, [sub])
        await wait_for(lambda: receiver.delivered_ids("a"))
    assert [h.event_id for h in receiver.to("a")] == [queued[0]["id"], marker["id"]]
    assert sub["counters"]["dropped"] == 3


async def test_backlog_cap_pauses_the_subscription_and_clears_its_queue(receiver: Receiver) -> None:
    receiver.script("a", HANG)
    sub = receiver.subscription("a", LEAD_ALL)
    other = receiver.subscription("b", LEAD_ALL)
    async with WebhookDispatcher(replace(FAST, backlog_cap=3, timeout=30)) as d:
        first = make_event()
        d.submit(first, [sub])
        await wait_for(lambda: receiver.to("a"))  # in flight, hanging
        assert d.submit(make_event(), [sub, other]) == [sub["id"], other["id"]]
        await wait_for(lambda: d.backlog(other["id"]) == 0)  # other's backlog stays under the cap
        assert d.submit(make_event(), [sub, other]) == [other["id"]]  # third backlogged: paused
        assert (sub["status"], sub["pause_reason"]) == ("paused", "backlog")
        assert d.backlog(sub["id"]) == 1  # only the attempt already under way
        assert d.submit(make_event(), [sub, other]) == [other["id"]]
        await wait_for(lambda: len(receiver.delivered_ids("b")) == 3)
        assert other["status"] == "active"
        receiver.release.set()  # the hanging attempt now completes, and nothing follows it
        await wait_for(lambda: d.backlog(sub["id"]) == 0)
    assert [h.event_id for h in receiver.to("a")] == [first["id"]]
    assert sub["counters"]["dropped"] == 2


async def test_all_failing_for_too_long_pauses(receiver: Receiver) -> None:
    receiver.script("a", *[500] * 1000)
    sub = receiver.subscription("a", LEAD_ALL)
    async with WebhookDispatcher(replace(FAST, pause_after_failing=0.2)) as d:
        d.submit(make_event(), [sub])
        d.submit(make_event(), [sub])
        await wait_for(lambda: sub["status"] == "paused")
        await wait_for(lambda: d.backlog(sub["id"]) == 0)
    assert sub["pause_reason"] == "failing"
    assert sub["counters"]["dropped"] == 2


async def test_deleted_subscription_is_forgotten(receiver: Receiver) -> None:
    receiver.script("a", *[500] * 1000)
    sub = receiver.subscription("a", LEAD_ALL)
    async with WebhookDispatcher(FAST) as d:
        d.submit(make_event(), [sub])
        d.submit(make_event(), [sub])
        await wait_for(lambda: receiver.to("a"))
        d.remove(sub["id"])
        assert d.backlog(sub["id"]) == 0
        await wait_for(lambda: any(r.error == "subscription paused or deleted" for r in records(d, sub)))
        n = len(receiver.to("a"))
        # the same receiver, another subscription: proves the loop runs, while the deleted one stays quiet
        other = receiver.subscription("b", LEAD_ALL)
        d.submit(make_event(), [other])
        await wait_for(lambda: receiver.delivered_ids("b"))
    assert len(receiver.to("a")) == n


async def test_http_loopback_is_refused_without_the_option(receiver: Receiver) -> None:
    sub = receiver.subscription("a", LEAD_ALL)
    async with WebhookDispatcher(replace(FAST, allow_loopback_http=False)) as d:
        d.submit(make_event(), [sub])
        await wait_for(lambda: len(records(d, sub)) >= 2)
    assert receiver.to("a") == []
    assert sub["latest_error"].startswith("URL refused: Must be an https URL.")


async def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.script("a", REDIRECT)
    sub = receiver.subscription("a", LEAD_ALL)
    async with WebhookDispatcher(FAST) as d:
        d.submit(make_event(), [sub])
        await settled(d, sub, 1)
    assert receiver.to("redirect-target") == []
    assert [(r.status, r.outcome) for r in records(d, sub)] == [(302, "retrying"), (200, "delivered")]


async def test_response_reading_is_bounded(receiver: Receiver) -> None:
    """A 2xx whose body never ends is delivered: only max_response_bytes are read, so the
    attempt neither times out nor grows without bound."""
    receiver.script("a", ENDLESS)
    sub = receiver.subscription("a", LEAD_ALL)
    async with WebhookDispatcher(replace(FAST, max_response_bytes=1024, timeout=3)) as d:
        d.submit(make_event(), [sub])
        await wait_for(lambda: records(d, sub))
    assert [(r.attempt, r.status, r.outcome) for r in records(d, sub)] == [(1, 200, "delivered")]


async def test_the_event_is_snapshotted_at_submit(receiver: Receiver) -> None:
    sub = receiver.subscription("a", LEAD_ALL)
    event = make_event()
    async with WebhookDispatcher(FAST) as d:
        d.submit(event, [sub])
        event["data"]["name"] = "changed after submit"
        await wait_for(lambda: receiver.to("a"))
    assert receiver.to("a")[0].payload["event"]["data"]["name"] != "changed after submit"


async def test_delivery_log_is_bounded(receiver: Receiver) -> None:
    sub = receiver.subscription("a", LEAD_ALL)
    events = [make_event() for _ in range(5)]
    async with WebhookDispatcher(replace(FAST, log_size=2)) as d:
        for event in events:
            d.submit(event, [sub])
        await wait_for(lambda: len(receiver.to("a")) == 5)
        await wait_for(lambda: d.health(sub["id"])["counters"].get("delivered") == 5)
    assert [r.event_id for r in d.deliveries] == [e["id"] for e in events[-2:]]


async def test_stop_is_clean_with_deliveries_in_flight_and_waiting(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.script("hang", HANG)
    receiver.script("fail", *[500] * 1000)
    hang = receiver.subscription("hang", LEAD_ALL)
    fail = receiver.subscription("fail", LEAD_ALL)
    caplog.set_level(logging.DEBUG)
    d = WebhookDispatcher(replace(FAST, base_delay=60, max_delay=60, timeout=60))
    with anyio.fail_after(5):  # neither the 60 s timeout nor the 60 s backoff holds the stop up
        async with d:
            for _ in range(3):
                d.submit(make_event(), [hang, fail])
            await wait_for(lambda: receiver.to("hang") and receiver.to("fail"))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    with pytest.raises(RuntimeError, match="not running"):
        d.submit(make_event(), [hang])
    async with d:  # can start again after a stop
        d.submit(make_event(), [receiver.subscription("again", LEAD_ALL)])
        await wait_for(lambda: receiver.delivered_ids("again"))


async def test_submit_before_start_raises() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        WebhookDispatcher(DeliveryPolicy()).submit(make_event(), [])


async def test_starting_twice_raises() -> None:
    async with WebhookDispatcher(FAST) as d:
        with pytest.raises(RuntimeError, match="already running"):
            await d.__aenter__()


async def test_on_change_reports_owned_fields_when_the_engine_passes_copies(receiver: Receiver) -> None:
    """An engine that hands out copies learns about the automatic pause through on_change."""
    receiver.script("a", HANG)
    stored = receiver.subscription("a", LEAD_ALL)
    changes: list[tuple[str, dict[str, Any]]] = []
    policy = replace(FAST, backlog_cap=2, timeout=30)
    async with WebhookDispatcher(policy, on_change=lambda sid, f: changes.append((sid, f))) as d:
        d.submit(make_event(), [dict(stored)])
        await wait_for(lambda: receiver.to("a"))
        assert d.submit(make_event(), [dict(stored)]) == []
        assert stored["status"] == "active"  # the copy was paused, not the stored dict
        sid, fields = changes[-1]
        assert sid == stored["id"]
        assert (fields["status"], fields["pause_reason"]) == ("paused", "backlog")
        assert set(fields) == {
            "status",
            "pause_reason",
            "health_status",
            "latest_error",
            "recent_consecutive_fail_buckets_cnt",
            "counters",
        }
        assert fields["counters"] == {"dropped": 1}


async def test_reactivation_after_a_failing_pause_starts_a_fresh_clock(receiver: Receiver) -> None:
    receiver.script("a", *[500] * 1000)
    sub = receiver.subscription("a", LEAD_ALL)
    async with WebhookDispatcher(replace(FAST, pause_after_failing=0.3)) as d:
        d.submit(make_event(), [sub])
        await wait_for(lambda: sub["status"] == "paused" and d.backlog(sub["id"]) == 0)
        receiver.scripts["a"].clear()
        receiver.script("a", 500)  # one more failure, then success
        sub.update(status="active", pause_reason=None)
        d.update(sub)
        marker = make_event()
        assert d.submit(marker, [sub]) == [sub["id"]]
        await wait_for(lambda: marker["id"] in receiver.delivered_ids("a"))
    assert sub["status"] == "active"


@pytest.mark.parametrize(
    "bad", [{"timeout": 0}, {"base_delay": -1}, {"backlog_cap": 0}, {"log_size": 0}, {"fail_bucket": 0}]
)
def test_policy_rejects_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="DeliveryPolicy"):
        DeliveryPolicy(**bad)


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = DeliveryPolicy(base_delay=1, max_delay=20 * 60)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert policy.delay(11) == 1024 and policy.delay(12) == 1200 and policy.delay(10_000) == 1200
