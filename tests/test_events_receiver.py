"""``POST /webhooks/close`` on the real remote server: a signed delivery is accepted and published;
forged, wrong-key, stale, replayed, malformed and oversized ones are refused with a 4xx, counted in
``/healthz``, change nothing, and leave the server up — and no key or signature reaches the log."""

from __future__ import annotations

import logging
import secrets
import time

import httpx2
import pytest
from test_events_support import KEY, an_event, delivery, events_server, poll

from close_mcp.events.keyring import KeyRing

pytestmark = pytest.mark.anyio


@pytest.fixture
def keys(tmp_path):
    path = tmp_path / "keys" / "webhook-keys.json"
    KeyRing.load(path).put("whsub_test", KEY, "http://127.0.0.1/webhooks/close")
    return path


async def test_the_key_file_is_owner_only(keys):
    assert keys.stat().st_mode & 0o777 == 0o600 and keys.parent.stat().st_mode & 0o777 == 0o700


async def test_each_bad_delivery_is_refused_counted_and_changes_nothing(sandbox, keys, caplog):
    caplog.set_level(logging.DEBUG)
    async with events_server(sandbox, keys) as server, httpx2.AsyncClient(timeout=30) as http:
        hub = server.remote.app.events.hub
        good_body, good_headers = delivery(an_event(1))
        forged = {**good_headers, "close-sig-hash": secrets.token_hex(32)}
        wrong_key_body, wrong_key = delivery(an_event(2), key="cd" * 32)
        stale_body, stale = delivery(an_event(3), timestamp=int(time.time()) - 3600)
        future_body, future = delivery(an_event(4), timestamp=int(time.time()) + 3600)
        garbage = b'{"event": {"id": "ev_x",'
        _, garbage_headers = delivery({})
        from close_mcp.sandbox.webhook_delivery import signed_headers

        garbage_headers = signed_headers(KEY, garbage)
        not_an_event = b'{"event": "lead"}'
        huge = b'{"event": {"id": "ev_big", "data": "' + b"x" * (10 * 1024 * 1024) + b'"}}'
        cases = [
            ("forged", good_body, forged, 401),
            ("wrong key", wrong_key_body, wrong_key, 401),
            ("stale", stale_body, stale, 401),
            ("from the future", future_body, future, 401),
            ("unsigned", good_body, {"content-type": "application/json"}, 400),
            ("malformed JSON", garbage, garbage_headers, 400),
            ("not an event", not_an_event, signed_headers(KEY, not_an_event), 400),
            ("10 MB", huge, signed_headers(KEY, huge), 413),
        ]
        requests_before = len(sandbox.sandbox.stats.requests)
        for name, body, headers, status in cases:
            answer = await http.post(server.hook_url, content=body, headers=headers)
            assert answer.status_code == status, name
            assert KEY not in answer.text
        assert list(hub.recent) == []  # nothing published

        accepted = await http.post(server.hook_url, content=good_body, headers=good_headers)
        assert accepted.status_code == 202  # still up, and a good delivery goes through
        replayed = await http.post(server.hook_url, content=good_body, headers=good_headers)
        assert replayed.status_code == 409
        await poll(lambda: len(hub.recent) == 1)
        assert hub.recent[0]["id"] == "ev_test1"
        assert len(sandbox.sandbox.stats.requests) == requests_before  # no request to Close

        health = (await http.get(f"{server.base}/healthz")).json()
        counted = health["events"]["webhooks"]
        assert counted == {
            "refused_bad_signature": 2,
            "refused_stale": 2,
            "refused_unsigned": 1,
            "refused_malformed": 2,
            "refused_too_large": 1,
            "refused_replayed": 1,
            "accepted": 1,
        }
    logged = caplog.text
    assert "webhook delivery refused" in logged
    assert KEY not in logged and forged["close-sig-hash"] not in logged
    assert good_headers["close-sig-hash"] not in logged


async def test_a_retried_delivery_of_a_published_event_is_accepted_but_published_once(sandbox, keys):
    async with events_server(sandbox, keys) as server, httpx2.AsyncClient(timeout=30) as http:
        hub = server.remote.app.events.hub
        event = an_event(5)
        first_body, first = delivery(event, timestamp=int(time.time()) - 2)
        retry_body, retry = delivery(event)  # Close signs each attempt afresh
        assert (await http.post(server.hook_url, content=first_body, headers=first)).status_code == 202
        assert (await http.post(server.hook_url, content=retry_body, headers=retry)).status_code == 202
        await poll(lambda: hub.counts["duplicate_push"] == 1)
        assert [e["id"] for e in hub.recent] == ["ev_test5"]


async def test_a_rotated_key_verifies_until_its_overlap_ends(sandbox, keys):
    ring = KeyRing.load(keys)
    ring.put("whsub_new", "ef" * 32, "http://127.0.0.1/webhooks/close")
    ring.retire("whsub_test", time.time() + 3600)  # the old key: still accepted during the overlap
    async with events_server(sandbox, keys) as server, httpx2.AsyncClient(timeout=30) as http:
        old_body, old = delivery(an_event(6))
        new_body, new = delivery(an_event(7), key="ef" * 32)
        assert (await http.post(server.hook_url, content=old_body, headers=old)).status_code == 202
        assert (await http.post(server.hook_url, content=new_body, headers=new)).status_code == 202
        ring.retire("whsub_test", time.time() - 1)  # overlap over: the server re-reads the file
        late_body, late = delivery(an_event(8))
        assert (await http.post(server.hook_url, content=late_body, headers=late)).status_code == 401
