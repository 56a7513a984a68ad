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
from close_mcp.ratelimit import RateLimiter, WaitCallback, WaitTooLong, endpoint_group_of, reset_after_429

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
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RateLimiter()
        self._http = httpx2.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": credential.auth_header(),
                "User-Agent": f"close-mcp/{__version__}",
                "Accept": "application/json",
            },
            timeout=httpx2.Timeout(timeout, connect=min(10.0, timeout)),
            limits=httpx2.Limits(max_connections=50, max_keepalive_connections=20),
            transport=transport,
            follow_redirects=False,
        )
        self.requests_sent = 0

    async def aclose(self) -> None:
        await self._http.aclose()

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
        hint) decides whether an answer lost after sending or a 502/503/504 may be retried."""
        budget = self.wait_budget if wait_budget is None else wait_budget
        deadline = time.monotonic() + budget
        if idempotent is None:
            idempotent = method in ("GET", "PUT", "DELETE", "HEAD")
        attempt = 0
        while True:
            try:
                return await self._send_respecting_rate_limit(
                    method, path, params, json, deadline, budget, on_wait
                )
            except RequestNotSent as exc:
                failure: CloseError = exc  # never reached Close: safe to retry even a POST
            except (ResponseLost, ServerError) as exc:
                if not idempotent or (isinstance(exc, ServerError) and exc.status not in RETRYABLE_STATUSES):
                    raise
                failure = exc
            attempt += 1
            delay = self.retry.delay(attempt - 1)
            if attempt >= self.retry.attempts or time.monotonic() + delay > deadline:
                raise failure
            log.info(
                "retrying %s %s after %s (attempt %d)", method, path, type(failure).__name__, attempt + 1
            )
            await anyio.sleep(delay)

    # ----- layer 2: rate limits ---------------------------------------------------------
    async def _send_respecting_rate_limit(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json: Any,
        deadline: float,
        budget: float,
        on_wait: WaitCallback | None,
    ) -> CloseResponse:
        who = self.credential.fingerprint
        while True:
            bucket = self.limiter.bucket(who, method, path)
            try:
                await bucket.acquire(deadline, on_wait)
            except WaitTooLong as exc:
                raise RateLimitBudgetExceeded(method, path, exc.wait, budget) from None
            try:
                response = await self._send_once(method, path, params, json)
            except BaseException:
                bucket.release_probe()
                raise
            if response.status != 429:
                bucket.observe(response.headers)
                if response.status >= 400:
                    raise status_error(method, path, response.status, response.data)
                return response
            # 429: Close did not process the request, so every method may retry.
            wait = reset_after_429(response.headers, response.data)
            group = endpoint_group_of(response.data)
            if group:
                bucket = self.limiter.learn_group(who, method, path, group)
            bucket.pause(wait)
            log.info("429 on %s %s: pausing its bucket for %.2fs", method, path, wait)
            if time.monotonic() + wait > deadline:
                raise RateLimitBudgetExceeded(method, path, wait, budget)

    # ----- layer 1: one request ---------------------------------------------------------
    async def _send_once(
        self, method: str, path: str, params: dict[str, str] | None, json: Any
    ) -> CloseResponse:
        self.requests_sent += 1
        try:
            response = await self._http.request(method, path, params=params, json=json)
        except _NOT_SENT as exc:
            raise RequestNotSent(method, path, type(exc).__name__) from None
        except httpx2.TimeoutException as exc:
            raise ResponseLost(method, path, f"no answer in time ({type(exc).__name__})") from None
        except httpx2.TransportError as exc:
            raise ResponseLost(method, path, f"connection dropped ({type(exc).__name__})") from None
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = {"error": response.text[:500]}
        return CloseResponse(response.status_code, data, response.headers)
