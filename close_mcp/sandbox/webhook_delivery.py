"""Webhook delivery for the Close sandbox: who receives an event, how it is signed, and a
background dispatcher that POSTs it with Close's retries, auto-pause and health fields.

Self-contained on purpose: nothing here knows the sandbox's routes or store. It takes Event Log
event dicts and webhook subscription dicts, both in Close's JSON shape (close-api.md §5.3).

Wiring (for the sandbox):

* lifespan: ``async with WebhookDispatcher(DeliveryPolicy(allow_loopback_http=…)) as hooks: yield``;
* ``POST``/``PUT /webhook/``: add ``validate_events(body["events"])`` and
  ``check_webhook_url(body["url"], policy.allow_loopback_http)`` (as field ``url``) to the 400;
  after a ``PUT``, ``hooks.update(stored)``; after a ``DELETE``, ``hooks.remove(id)``;
* the engine's event hook: ``hooks.submit(event, org_subscriptions)`` for every Event Log event;
* a subscription's GET/list view: the stored dict already carries the fields the dispatcher owns
  (or merge ``hooks.health(id)``, or persist what ``on_change`` reports).

Sources: D-HOOK (Close's Webhooks page: payload, delivery, signatures) and SPEC2 (Close's webhook
OpenAPI examples, with full subscription objects), tags of close-api.md; D-FILT, Close's "Webhook
Filters" page (developer.close.com/api/resources/webhooks/webhook-filters) and its examples.
Every behaviour the sources leave open is marked "Guess:" where it is decided.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio
import httpx2
from anyio.abc import TaskGroup

from close_mcp import __version__

__all__ = [
    "FILTER_TYPES",
    "DeliveryPolicy",
    "DeliveryRecord",
    "WebhookDispatcher",
    "check_webhook_url",
    "delivery_body",
    "filter_errors",
    "filter_matches",
    "sign",
    "signed_headers",
    "subscription_matches",
    "validate_events",
    "verify_signature",
]

Obj = dict[str, Any]
log = logging.getLogger("close_mcp.sandbox.webhooks")

# ----- filters (D-FILT) ----------------------------------------------------------------------
_VALUE_TYPES = frozenset({"equals", "not_equals", "contains"})
_NULL_TYPES = frozenset({"is_null", "non_null"})
_LIST_TYPES = frozenset({"and", "or"})
_ONE_CHILD_TYPES = frozenset({"not", "any_array_value", "field_accessor"})
FILTER_TYPES = _VALUE_TYPES | _NULL_TYPES | _LIST_TYPES | _ONE_CHILD_TYPES
# Sandbox guard against a filter that recurses without end; Close's own limit is not documented.
MAX_FILTER_DEPTH = 32


def filter_errors(node: object, where: str = "extra_filter", depth: int = 0) -> str | None:
    """The first problem of a filter tree as ``"<where>: <message>"``, or ``None`` if well formed.

    Required keys follow D-FILT's syntax; other keys are ignored. Guess: ``and``/``or`` need a
    non-empty ``filters`` list (D-FILT never shows an empty one; ``and []`` would match everything).
    """
    if depth > MAX_FILTER_DEPTH:
        return f"{where}: filters are nested too deeply (more than {MAX_FILTER_DEPTH} levels)."
    if not isinstance(node, dict):
        return f"{where}: must be a filter object with a 'type'."
    kind = node.get("type")
    if kind not in FILTER_TYPES:
        return (
            f"{where}.type: unknown filter type {kind!r}; expected one of {', '.join(sorted(FILTER_TYPES))}."
        )
    if kind in _VALUE_TYPES and "value" not in node:
        return f"{where}.value: required for a '{kind}' filter."
    if kind in _LIST_TYPES:
        return _children_errors(node.get("filters"), f"{where}.filters", depth)
    if kind == "field_accessor" and not (isinstance(node.get("field"), str) and node["field"]):
        return f"{where}.field: must be a non-empty string."
    if kind in _ONE_CHILD_TYPES:
        return filter_errors(node.get("filter"), f"{where}.filter", depth + 1)
    return None


def _children_errors(children: object, where: str, depth: int) -> str | None:
    if not isinstance(children, list) or not children:
        return f"{where}: must be a non-empty list of filters."
    for i, child in enumerate(children):
        if problem := filter_errors(child, f"{where}[{i}]", depth + 1):
            return problem
    return None


def validate_events(events: object) -> dict[str, str]:
    """Field-errors (Close 400 style) for a subscription's ``events``; ``{}`` when valid.

    Keys are ``events`` for the list itself, else ``events.<i>.<field>``. Guess: Close's nesting of
    field-errors for list items is not recorded; the sandbox's field-errors are flat, so the path is
    dotted. Entry keys other than ``object_type``/``action``/``extra_filter`` are ignored, as the
    SPEC2 schema ``WebhookSubscriptionEvent`` does not forbid additional properties.
    """
    if not isinstance(events, list) or not events:
        return {"events": "Must be a non-empty list of {object_type, action} objects."}
    errors: dict[str, str] = {}
    for i, entry in enumerate(events):
        errors.update(_entry_errors(entry, f"events.{i}"))
    return errors


def _entry_errors(entry: object, key: str) -> dict[str, str]:
    if not isinstance(entry, dict):
        return {key: "Must be an object with object_type and action."}
    errors: dict[str, str] = {}
    for name in ("object_type", "action"):
        value = entry.get(name)
        if value in (None, ""):
            errors[f"{key}.{name}"] = "This field is required."
        elif not isinstance(value, str):
            errors[f"{key}.{name}"] = "Not a valid string."
    extra = entry.get("extra_filter")  # null is allowed (SPEC2: object or null)
    if extra is not None and (problem := filter_errors(extra)):
        errors[f"{key}.extra_filter"] = problem
    return errors


def filter_matches(node: Mapping[str, Any], value: Any) -> bool:
    """Evaluate a well-formed filter (see :func:`filter_errors`) against a JSON value.

    Guesses, none documented by D-FILT: a missing field reads as null (so ``is_null`` matches it);
    ``field_accessor`` on a non-object (e.g. ``data`` of a deleted event) reads null; ``contains``
    is case-sensitive; ``equals`` compares JSON values (``true`` is not ``1``).
    The accessor's ``field`` is one literal key, never a dotted path: D-FILT's own example reads
    ``custom.cf_…`` from ``data``, where Close keeps custom fields as flat keys.
    """
    kind: str = node["type"]
    if kind == "field_accessor":
        return filter_matches(node["filter"], value.get(node["field"]) if isinstance(value, dict) else None)
    if kind == "any_array_value":
        return isinstance(value, list) and any(filter_matches(node["filter"], item) for item in value)
    if kind == "and":
        return all(filter_matches(child, value) for child in node["filters"])
    if kind == "or":
        return any(filter_matches(child, value) for child in node["filters"])
    if kind == "not":
        return not filter_matches(node["filter"], value)
    if kind in _NULL_TYPES:
        return (value is None) == (kind == "is_null")
    if kind == "contains":
        return _contains(value, node["value"])
    return _json_equal(value, node["value"]) == (kind == "equals")


def _contains(value: Any, wanted: Any) -> bool:
    """D-FILT: "searches for a particular value in an array … also … a partial string"."""
    if isinstance(value, list):
        return any(_json_equal(item, wanted) for item in value)
    return isinstance(value, str) and isinstance(wanted, str) and wanted in value


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def subscription_matches(subscription: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """An active subscription with an entry whose object_type, action and extra_filter match.

    Strings are compared as given: which spelling the engine emits (``activity.note`` or ``note``,
    close-api.md §10.8) is the engine's choice; subscriptions use the event-type list's spelling.
    """
    if subscription.get("status", "active") != "active":
        return False
    return any(_entry_matches(entry, event) for entry in subscription.get("events") or [])


def _entry_matches(entry: Any, event: Mapping[str, Any]) -> bool:
    if not isinstance(entry, dict):
        return False
    if entry.get("object_type") != event.get("object_type") or entry.get("action") != event.get("action"):
        return False
    extra = entry.get("extra_filter")
    if extra is None:
        return True
    if filter_errors(extra):  # validate_events keeps these out; never crash an API request on one
        log.warning("ignoring a malformed extra_filter: %s", filter_errors(extra))
        return False
    return filter_matches(extra, dict(event))


# ----- signing (D-HOOK, close-api.md §7) -------------------------------------------------------
def delivery_body(event: Mapping[str, Any], subscription_id: str) -> bytes:
    """The POST body, D-HOOK: ``{"event": {…}, "subscription_id": "whsub_…"}`` as UTF-8 JSON.

    Close's exact serialisation (spacing, key order) is not documented; receivers must verify the
    raw bytes, never a re-serialisation, so any valid JSON is faithful.
    """
    payload = {"event": event, "subscription_id": subscription_id}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(signature_key: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256, key = ``bytes.fromhex(signature_key)``, message = timestamp + raw body.

    Raises ``ValueError`` if the key is not hex.
    """
    return hmac.new(
        bytes.fromhex(signature_key), timestamp.encode("utf-8") + body, hashlib.sha256
    ).hexdigest()


def signed_headers(signature_key: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers of one delivery attempt (D-HOOK header names; timestamp = Unix seconds).

    Guess: every attempt, retries included, is signed afresh with the current time.
    """
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": "application/json",
        "close-sig-hash": sign(signature_key, stamp, body),
        "close-sig-timestamp": stamp,
        # Ours, not Close's: Close's User-Agent for webhooks is not documented.
        "user-agent": f"close-mcp-sandbox-webhooks/{__version__}",
    }


def verify_signature(signature_key: str, timestamp: str, body: bytes | str, sig: str) -> bool:
    """Check a delivery as a receiver would (Close's Python sample, D-HOOK), in constant time.

    ``False`` for a malformed key or header rather than an exception.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    try:
        expected = sign(signature_key, timestamp, raw).encode("ascii")
        given = sig.encode("utf-8")
    except (ValueError, UnicodeError):
        return False
    return hmac.compare_digest(expected, given)


# ----- URL policy --------------------------------------------------------------------------------
_NOT_HTTPS = "Must be an https URL."


def check_webhook_url(url: object, allow_loopback_http: bool) -> str | None:
    """The field-error for a subscription ``url``, or ``None`` when it may be used.

    Close's docs only *recommend* https (D-HOOK "We recommend using HTTPS"); the sandbox requires
    it (project decision, matching its existing route text). Plain http is allowed only to a
    loopback host (``localhost``, 127.0.0.0/8, ``[::1]``) and only when ``allow_loopback_http``.
    """
    if not isinstance(url, str) or not url.strip():
        return "This field is required." if url in (None, "") else "Not a valid string."
    try:
        parts = urlsplit(url.strip())
        host, _port = parts.hostname, parts.port
    except ValueError:
        return "Not a valid URL."
    if not host:
        return "Not a valid URL."
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and allow_loopback_http and _is_loopback(host):
        return None
    if parts.scheme == "http" and _is_loopback(host):
        return _NOT_HTTPS + " (http to a loopback address needs the sandbox's allow_loopback_http option.)"
    return _NOT_HTTPS


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ----- the dispatcher ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DeliveryPolicy:
    """Retry schedule, limits and URL policy. Defaults are Close's where Close documents them."""

    base_delay: float = 1.0  # Guess: Close's first retry delay is not documented.
    max_delay: float = 20 * 60  # D-HOOK: backs off "up to every 20 minutes".
    max_age: float = 72 * 3600  # D-HOOK: retried "up to 72 hours before being dropped".
    timeout: float = 10.0  # Guess: Close's delivery timeout is not documented (close-api.md §7, §10.9).
    backlog_cap: int = 1_000  # Close pauses at 100,000 (D-HOOK); smaller so a sandbox stays small.
    pause_after_failing: float | None = 72 * 3600  # D-HOOK: paused when all delivery fails for 3 days.
    fail_bucket: float = 3600.0  # Guess: the time window behind recent_consecutive_fail_buckets_cnt.
    max_response_bytes: int = 64 * 1024  # response bodies are read up to this much, then dropped
    log_size: int = 1_000  # delivery records kept
    allow_loopback_http: bool = False

    def __post_init__(self) -> None:
        positive = ("base_delay", "max_delay", "max_age", "timeout", "fail_bucket")
        if any(getattr(self, name) <= 0 for name in positive) or min(self.backlog_cap, self.log_size) < 1:
            raise ValueError(
                f"DeliveryPolicy: {', '.join(positive)} must be > 0, backlog_cap and log_size ≥ 1"
            )

    def delay(self, attempt: int) -> float:
        """Wait after failed attempt ``attempt`` (1-based): doubling from base_delay, capped.

        Guess: factor 2 and no jitter (D-HOOK says only "exponentially backs off"); no jitter keeps
        the sandbox deterministic.
        """
        return float(min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 64)))


Outcome = Literal["delivered", "retrying", "dropped"]


@dataclass(frozen=True)
class DeliveryRecord:
    """One line of the delivery log: an attempt (``attempt`` ≥ 1) or a drop without one (0)."""

    subscription_id: str
    event_id: str
    attempt: int
    status: int | None  # the HTTP status, None when no response arrived
    error: str | None  # None when delivered
    outcome: Outcome


@dataclass
class _Pending:
    event_id: str
    body: bytes  # serialised at submit: later changes to the event dict do not leak in
    queued_at: float


@dataclass
class _Lane:
    """One subscription's queue, delivery task and health bookkeeping."""

    subscription: Obj  # the latest dict seen; the dispatcher writes the fields it owns into it
    queue: deque[_Pending] = field(default_factory=deque)
    wake: anyio.Event = field(default_factory=anyio.Event)
    in_flight: bool = False
    removed: bool = False
    counters: Counter[str] = field(default_factory=Counter)
    latest_error: str | None = None
    fail_buckets: int = 0
    last_fail_bucket: int | None = None
    failing_since: float | None = None

    @property
    def id(self) -> str:
        return str(self.subscription["id"])

    @property
    def backlog(self) -> int:
        return len(self.queue) + self.in_flight

    @property
    def active(self) -> bool:
        return not self.removed and self.subscription.get("status", "active") == "active"

    def health(self) -> Obj:
        """The subscription fields this lane owns (SPEC2 names; values partly guessed)."""
        return {
            # Guess: "unhealthy" is the non-healthy value; SPEC2 only shows "healthy".
            "health_status": "healthy" if self.fail_buckets == 0 else "unhealthy",
            "latest_error": self.latest_error,
            "recent_consecutive_fail_buckets_cnt": self.fail_buckets,
            # Guess: SPEC2 shows "counters": {} and no keys; these names are the sandbox's.
            "counters": dict(self.counters),
        }

    def interrupt(self) -> None:
        self.wake.set()

    async def wait(self, seconds: float | None = None) -> None:
        with anyio.move_on_after(seconds):
            await self.wake.wait()
        self.wake = anyio.Event()


class WebhookDispatcher:
    """Delivers events to webhook subscriptions in the background, in order per subscription.

    Use as ``async with WebhookDispatcher(policy) as dispatcher:`` (e.g. in the app's lifespan).
    Leaving the block (the "stop") cancels attempts under way,
    discards what is queued (the sandbox keeps no queue across restarts) and closes the HTTP
    client(s). Call :meth:`submit`, :meth:`update` and :meth:`remove` from the event loop's thread;
    they never block.
    """

    def __init__(
        self,
        policy: DeliveryPolicy | None = None,
        *,
        on_change: Callable[[str, Obj], None] | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy or DeliveryPolicy()
        self._on_change = on_change
        self._transport = transport
        self._lanes: dict[str, _Lane] = {}
        self._clients: dict[bool, httpx2.AsyncClient] = {}
        self._tg: TaskGroup | None = None
        self._log: deque[DeliveryRecord] = deque(maxlen=self.policy.log_size)

    # ----- lifecycle -------------------------------------------------------------------------
    # Only as an async context manager: the task group it owns must be left in the task and at
    # the cancel-scope depth it was entered (anyio's rule), which a bare start()/stop() invites
    # breaking. A Starlette lifespan (``async with dispatcher: yield``) keeps it.
    async def __aenter__(self) -> WebhookDispatcher:
        if self._tg is not None:
            raise RuntimeError("the webhook dispatcher is already running")
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        tg, self._tg = self._tg, None
        if tg is None:
            return
        tg.cancel_scope.cancel()
        try:
            await tg.__aexit__(None, None, None)
        finally:
            with anyio.CancelScope(shield=True):
                for client in self._clients.values():
                    await client.aclose()
            self._clients.clear()
            self._lanes.clear()

    # ----- what the sandbox calls --------------------------------------------------------------
    def submit(self, event: Mapping[str, Any], subscriptions: Iterable[Obj]) -> list[str]:
        """Queue ``event`` for every matching subscription; returns the ids it was queued for.

        The dispatcher writes the fields it owns (``status``/``pause_reason`` on an automatic pause,
        and :meth:`health`) into the dict it saw last, and passes them to ``on_change`` if given:
        pass the stored dicts, or persist what ``on_change`` reports.
        """
        tg = self._running()
        queued: list[str] = []
        for subscription in subscriptions:
            if not subscription_matches(subscription, event):
                continue
            lane = self._lane(subscription, tg)
            body = delivery_body(event, lane.id)
            lane.queue.append(_Pending(str(event.get("id")), body, anyio.current_time()))
            if lane.backlog >= self.policy.backlog_cap:
                # D-HOOK: paused "and its queue cleared" at 100,000 backlogged events.
                self._pause(lane, "backlog", f"{lane.backlog} backlogged events")
                continue
            lane.interrupt()
            queued.append(lane.id)
        return queued

    def update(self, subscription: Obj) -> None:
        """After ``PUT /webhook/{id}/``: use this dict from now on, and notice a pause at once."""
        lane = self._lanes.get(str(subscription.get("id")))
        if lane is not None:
            lane.subscription = subscription
            self._publish(lane)
            lane.interrupt()

    def remove(self, subscription_id: str) -> None:
        """After ``DELETE /webhook/{id}/``: drop its queue; an attempt under way still finishes."""
        lane = self._lanes.pop(subscription_id, None)
        if lane is not None:
            lane.removed = True
            self._drop_queue(lane, "subscription deleted")
            lane.interrupt()

    def health(self, subscription_id: str) -> Obj:
        """``health_status``, ``latest_error``, ``recent_consecutive_fail_buckets_cnt``, ``counters``."""
        lane = self._lanes.get(subscription_id)
        return lane.health() if lane else _Lane({"id": subscription_id}).health()

    def backlog(self, subscription_id: str) -> int:
        """Events queued or in flight for the subscription."""
        lane = self._lanes.get(subscription_id)
        return lane.backlog if lane else 0

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        """The newest ``policy.log_size`` delivery records, oldest first."""
        return list(self._log)

    # ----- lanes -------------------------------------------------------------------------------
    def _running(self) -> TaskGroup:
        if self._tg is None:
            raise RuntimeError("the webhook dispatcher is not running: use it as an async context manager")
        return self._tg

    def _lane(self, subscription: Obj, tg: TaskGroup) -> _Lane:
        sub_id = str(subscription["id"])
        lane = self._lanes.get(sub_id)
        if lane is None:
            lane = self._lanes[sub_id] = _Lane(subscription)
            tg.start_soon(self._run_lane, lane, name=f"webhook delivery {sub_id}")
        lane.subscription = subscription
        return lane

    def _publish(self, lane: _Lane) -> None:
        sub = lane.subscription
        fields = {
            **lane.health(),
            "status": sub.get("status", "active"),
            "pause_reason": sub.get("pause_reason"),
        }
        sub.update(fields)
        if self._on_change is not None:
            self._on_change(lane.id, fields)

    async def _run_lane(self, lane: _Lane) -> None:
        # One attempt at a time per subscription, head of line first: stricter than Close, whose
        # ordering "is not guaranteed" (D-HOOK: consolidation, parallelism, retries), and simpler.
        while not lane.removed:
            if not lane.queue:
                await lane.wait()
            elif not lane.active:
                # Guess: a pause through the API clears the queue too, as an automatic pause does (D-HOOK).
                self._drop_queue(lane, "subscription paused")
            else:
                item = lane.queue.popleft()
                lane.in_flight = True
                try:
                    await self._deliver(lane, item)
                finally:
                    lane.in_flight = False

    async def _deliver(self, lane: _Lane, item: _Pending) -> None:
        """Attempt until delivered, dropped for age, or the subscription stops being active."""
        attempt = 0
        while True:
            attempt += 1
            status, error = await self._attempt(lane, item)
            if error is None:
                return self._succeeded(lane, item, attempt, status)
            delay = self.policy.delay(attempt)
            too_old = anyio.current_time() + delay - item.queued_at > self.policy.max_age
            self._failed(lane, item, attempt, status, error, "dropped" if too_old else "retrying")
            if too_old:
                return None
            if not await self._backoff(lane, delay):
                return self._drop(lane, item, "subscription paused or deleted")

    async def _backoff(self, lane: _Lane, delay: float) -> bool:
        """Sleep ``delay`` unless the subscription is paused or removed first; True if still active."""
        deadline = anyio.current_time() + delay
        while lane.active and (remaining := deadline - anyio.current_time()) > 0:
            await lane.wait(remaining)
        return lane.active

    # ----- one attempt -----------------------------------------------------------------------
    async def _attempt(self, lane: _Lane, item: _Pending) -> tuple[int | None, str | None]:
        """POST once; (status, None) when delivered, else (status or None, error text)."""
        sub = lane.subscription
        url = sub.get("url")
        if problem := check_webhook_url(url, self.policy.allow_loopback_http):
            return None, f"URL refused: {problem}"  # retried like any failure: a PUT may fix the URL
        try:
            headers = signed_headers(str(sub.get("signature_key")), item.body)
        except ValueError:
            return None, "The subscription's signature_key is not hex."
        timed_out = f"Timed out after {self.policy.timeout:g} s."
        status: int | None = None
        # httpx's timeouts are per read/write; the scope bounds the whole attempt (a slow drip too).
        with anyio.move_on_after(self.policy.timeout):
            try:
                status = await self._post(self._client(sub), str(url), item.body, headers)
            except httpx2.TimeoutException:
                return None, timed_out
            except httpx2.TransportError as exc:
                return None, f"Connection error: {type(exc).__name__}: {exc}"
        if status is None:
            return None, timed_out
        if 200 <= status < 300:
            return status, None
        return status, f"HTTP {status}"

    async def _post(self, client: httpx2.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> int:
        """Send without following redirects (a 3xx is a failure) and read a bounded response."""
        async with client.stream(
            "POST", url, content=body, headers=headers, follow_redirects=False
        ) as response:
            remaining = self.policy.max_response_bytes
            chunks = response.aiter_raw()
            try:
                async for chunk in chunks:
                    remaining -= len(chunk)
                    if remaining <= 0:
                        break
            finally:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            return response.status_code

    def _client(self, subscription: Obj) -> httpx2.AsyncClient:
        """One shared client; a second one, unverified, only once a subscription sets verify_ssl false
        (httpx verifies per client, not per request)."""
        verify = subscription.get("verify_ssl", True) is not False
        client = self._clients.get(verify)
        if client is None:
            client = self._clients[verify] = httpx2.AsyncClient(
                verify=verify,
                timeout=httpx2.Timeout(self.policy.timeout),
                follow_redirects=False,
                trust_env=False,  # a proxy from the environment must not see (or break) deliveries
                transport=self._transport,
            )
        return client

    # ----- bookkeeping -----------------------------------------------------------------------
    def _succeeded(self, lane: _Lane, item: _Pending, attempt: int, status: int | None) -> None:
        lane.counters["delivered"] += 1
        # Guess: latest_error keeps the last error after a success (the latest, not the current one).
        lane.fail_buckets, lane.last_fail_bucket, lane.failing_since = 0, None, None
        self._record(lane, item, attempt, status, None, "delivered")
        self._publish(lane)

    def _failed(
        self, lane: _Lane, item: _Pending, attempt: int, status: int | None, error: str, outcome: Outcome
    ) -> None:
        lane.counters["failed_attempts"] += 1
        if outcome == "dropped":
            lane.counters["dropped"] += 1
        lane.latest_error = error
        bucket = int(time.time() // self.policy.fail_bucket)
        if bucket != lane.last_fail_bucket:
            lane.fail_buckets, lane.last_fail_bucket = lane.fail_buckets + 1, bucket
        now = anyio.current_time()
        lane.failing_since = lane.failing_since if lane.failing_since is not None else now
        self._record(lane, item, attempt, status, error, outcome)
        limit = self.policy.pause_after_failing
        if limit is not None and now - lane.failing_since >= limit:
            # Guess: the pause_reason value; SPEC2 only shows "api" (a pause through the API).
            self._pause(lane, "failing", f"every delivery failed for {limit:g} s")
        self._publish(lane)

    def _pause(self, lane: _Lane, reason: str, detail: str) -> None:
        # Guess: pause_reason values "backlog" and "failing" (Close's are not documented).
        lane.subscription["status"] = "paused"
        lane.subscription["pause_reason"] = reason
        log.info("webhook subscription %s paused: %s", lane.id, detail)
        self._drop_queue(lane, f"subscription paused ({reason})")
        self._publish(lane)
        lane.interrupt()

    def _drop_queue(self, lane: _Lane, reason: str) -> None:
        lane.failing_since = None  # not active: after a reactivation the 3-day clock starts again
        while lane.queue:
            self._drop(lane, lane.queue.popleft(), reason)

    def _drop(self, lane: _Lane, item: _Pending, reason: str) -> None:
        lane.failing_since = None
        lane.counters["dropped"] += 1
        self._record(lane, item, 0, None, reason, "dropped")
        self._publish(lane)

    def _record(
        self,
        lane: _Lane,
        item: _Pending,
        attempt: int,
        status: int | None,
        error: str | None,
        outcome: Outcome,
    ) -> None:
        self._log.append(DeliveryRecord(lane.id, item.event_id, attempt, status, error, outcome))
