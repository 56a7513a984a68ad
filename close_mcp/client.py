"""The one shared async Close client: the only module that speaks HTTP to Close.

Layers, outermost first (as in httpx's send chain):

* :meth:`CloseClient.request` – retries that never double a write, and the wait budget;
* :meth:`CloseClient._send_respecting_rate_limit` – waits for the bucket, records the
  ``RateLimit`` header, turns a 429 into a shared pause;
* :meth:`CloseClient._send_once` – one httpx2 request, errors classified by whether the
  request can have reached Close.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

from close_mcp import __version__
from close_mcp.credentials import Credential
from close_mcp.errors import (
    CloseError,
    RateLimitBudgetExceeded,
    RequestNotSent,
    ResponseLost,
    ServerError,
    status_error,
)
from close_mcp.ratelimit import RateLimiter, WaitCallback, WaitTooLong, reset_after_429

log = logging.getLogger("close_mcp.client")
RETRYABLE_STATUSES = frozenset({502, 503, 504})
_NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.UnsupportedProtocol)


@dataclass
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 4.0

    def delay(self, attempt: int) -> float:
        """Capped exponential backoff with jitter (between half and the full step)."""
        step = min(self.max_delay, self.base_delay * 2**attempt)
        return random.uniform(step / 2, step)


MIN_429_PAUSE = 0.5  # seconds; Close's reset can read 0 (or be absent) on a 429
MAX_REQUESTS_PER_CALL = 20


@dataclass
class CallBudget:
    """The time and requests one call may spend: waits until ``wait_deadline``, everything (waits and
    requests) until ``end_deadline`` = start + wait budget + HTTP timeout."""

    budget: float
    timeout: float
    started: float
    wait_deadline: float
    end_deadline: float
    requests: int = 0

    @classmethod
    def start(cls, budget: float, timeout: float) -> CallBudget:
        now = time.monotonic()
        return cls(budget, timeout, now, now + budget, now + budget + timeout)

    @property
    def attempts(self) -> int:
        return self.requests

    def can_wait(self, seconds: float) -> bool:
        return time.monotonic() + seconds <= self.wait_deadline

    def request_timeout(self) -> float:
        return min(self.timeout, self.end_deadline - time.monotonic())

    def exceeded(
        self, method: str, path: str, wait: float, *, capped: bool = False
    ) -> RateLimitBudgetExceeded:
        left = max(0.0, self.wait_deadline - time.monotonic())
        return RateLimitBudgetExceeded(
            method, path, wait, self.budget, left=left, requests=self.requests, capped=capped
        )


@dataclass
class CloseResponse:
    status: int
    data: Any
    headers: httpx2.Headers


class CloseClient:
    def __init__(
        self,
        credential: Credential,
        base_url: str,
        *,
        wait_budget: float = 60.0,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.credential = credential
        self.base_url = base_url.rstrip("/")
        self.wait_budget = wait_budget
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RateLimiter()
        self._transport = transport
        self._http: httpx2.AsyncClient | None = None  # built by the first request: ~30 ms saved at start
        self._closed = self._closed_transport = False
        self.requests_sent = 0

    def _connection(self) -> httpx2.AsyncClient:
        """The HTTP client, built on first use (its TLS context and connection pool cost ~30 ms of CPU,
        which a server that is only listed, or only asked for its tools, never needs to spend)."""
        if self._http is None:
            if self._closed:
                raise RuntimeError("CloseClient used after aclose()")
            self._http = httpx2.AsyncClient(
                base_url=self.base_url,
                headers={
                    "Authorization": self.credential.auth_header(),
                    "User-Agent": f"close-mcp/{__version__}",
                    "Accept": "application/json",
                },
                timeout=httpx2.Timeout(self.timeout, connect=min(10.0, self.timeout)),
                limits=httpx2.Limits(max_connections=50, max_keepalive_connections=20),
                transport=self._transport,
                follow_redirects=False,
            )
        return self._http

    @property
    def connected(self) -> bool:
        """Whether the HTTP client has been built (a request was sent) and not closed."""
        return self._http is not None

    async def aclose(self) -> None:
        self._closed = True
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()  # closes the transport too
        elif self._transport is not None and not self._closed_transport:
            await self._transport.aclose()  # given to us, as httpx takes it: ours to close
        self._closed_transport = True

    async def __aenter__(self) -> CloseClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ----- layer 3: retries and budget --------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        wait_budget: float | None = None,
        on_wait: WaitCallback | None = None,
    ) -> CloseResponse:
        """Send one Close request. ``idempotent`` (default: by method; a tool's plan passes its manifest's
        hint) decides whether an answer lost after sending or a 502/503/504 may be retried.

        One deadline bounds the whole call: waits (pacing, 429 pauses, retry backoff) end within the wait
        budget, and every attempt's HTTP timeout is cut to what is left of budget + timeout. A call never
        sends more than :data:`MAX_REQUESTS_PER_CALL` requests, whatever Close answers."""
        budget = CallBudget.start(self.wait_budget if wait_budget is None else wait_budget, self.timeout)
        if idempotent is None:
            idempotent = method in ("GET", "PUT", "DELETE", "HEAD")
        while True:
            try:
                return await self._send_respecting_rate_limit(method, path, params, json, budget, on_wait)
            except RequestNotSent as exc:
                failure: CloseError = exc  # never reached Close: safe to retry even a POST
            except (ResponseLost, ServerError) as exc:
                if not idempotent or (isinstance(exc, ServerError) and exc.status not in RETRYABLE_STATUSES):
                    exc.attempts = budget.attempts
                    raise
                failure = exc
            except CloseError as exc:  # e.g. a 404 to a retried DELETE: the reconciler asks how many
                exc.attempts = budget.attempts
                raise
            delay = self.retry.delay(budget.attempts - 1)
            if budget.attempts >= self.retry.attempts or not budget.can_wait(delay):
                failure.attempts = budget.attempts
                raise failure
            log.info(
                "retrying %s %s after %s (attempt %d)",
                method,
                path,
                type(failure).__name__,
                budget.attempts + 1,
            )
            await anyio.sleep(delay)

    # ----- layer 2: rate limits ---------------------------------------------------------
    async def _send_respecting_rate_limit(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json: Any,
        budget: CallBudget,
        on_wait: WaitCallback | None,
    ) -> CloseResponse:
        who = self.credential.fingerprint
        while True:
            bucket = self.limiter.bucket(who, method, path)
            try:
                bucket = await bucket.acquire(budget.wait_deadline, on_wait)
            except WaitTooLong as exc:
                raise budget.exceeded(method, path, exc.wait) from None
            if budget.requests >= MAX_REQUESTS_PER_CALL:
                raise budget.exceeded(method, path, 0.0, capped=True)
            sent_at = time.monotonic()
            try:
                response = await self._send_once(method, path, params, json, budget)
            except BaseException:
                bucket.release_probe()
                raise
            if response.status != 429:
                if await bucket.observe_shared(response.headers, sent_at):
                    await self.limiter.learn_from_answer(who, bucket, response.headers)
                if response.status >= 400:
                    raise status_error(method, path, response.status, response.data)
                return response
            # 429: Close did not process the request, so every method may retry. Whatever the reset
            # says (0 included), the pause has a floor: a "reset in 0 s" must not become a request loop.
            wait = max(reset_after_429(response.headers, response.data), MIN_429_PAUSE)
            bucket = await self.limiter.learn_from_429(
                who, method, path, bucket, response.headers, response.data
            )
            await bucket.pause_shared(wait)
            log.info("429 on %s %s: pausing its bucket for %.2fs", method, path, wait)
            if not budget.can_wait(wait):
                raise budget.exceeded(method, path, wait)

    # ----- layer 1: one request ---------------------------------------------------------
    async def _send_once(
        self, method: str, path: str, params: dict[str, str] | None, json: Any, budget: CallBudget
    ) -> CloseResponse:
        self.requests_sent += 1
        budget.requests += 1
        timeout = budget.request_timeout()
        if timeout <= 0:
            raise budget.exceeded(method, path, 0.0)
        try:
            response = await self._connection().request(
                method,
                path,
                params=params,
                json=json,
                timeout=httpx2.Timeout(timeout, connect=min(10.0, timeout)),
            )
        except _NOT_SENT as exc:
            raise RequestNotSent(method, path, type(exc).__name__) from None
        except httpx2.TimeoutException as exc:
            raise ResponseLost(
                method, path, f"no answer in {timeout:.3g} s ({type(exc).__name__})", timed_out=True
            ) from None
        except httpx2.TransportError as exc:
            raise ResponseLost(method, path, f"connection dropped ({type(exc).__name__})") from None
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = {"error": response.text[:500]}
        return CloseResponse(response.status_code, data, response.headers)
