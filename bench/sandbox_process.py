"""The Close sandbox in its own process, so the measured servers and clients never share its CPU time or
event loop. The parent reads the sandbox's figures over HTTP: ``/_sandbox/stats`` (status counts) and
``/_sandbox/limits`` (its control routes), plus ``/_bench/requests``, a bench-only route this module adds
to the sandbox it runs: the sandbox's request log (method, path, query, status) from a given index. The
sandbox keeps that log already (``Stats.requests``) but its control routes expose only counts.

    python -m bench.sandbox_process --leads 260 [--rate-limit 10]   # prints its URL and key, serves
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

import anyio
import httpx2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

REQUESTS_ROUTE = "/_bench/requests"


def _requests_route(sandbox: Any) -> Route:
    from close_mcp.sandbox.auth import authenticate
    from close_mcp.sandbox.engine.context import error_response
    from close_mcp.sandbox.store import SandboxError

    async def requests(request: Request) -> Response:
        try:
            authenticate(sandbox.credentials, request)
        except SandboxError as exc:
            return error_response(exc)
        log = sandbox.stats.requests
        since = int(request.query_params.get("since", "0"))
        first_kept = len(log) - len(list(log))  # older entries have left the ring buffer
        if since < first_kept:
            return JSONResponse({"error": f"entries before {first_kept} are gone"}, status_code=410)
        kept = list(log)[since - first_kept :]
        fields = ("method", "path", "query", "status")
        return JSONResponse({"total": len(log), "requests": [{k: r.get(k) for k in fields} for r in kept]})

    return Route(REQUESTS_ROUTE, requests, methods=["GET"])


async def _serve(leads: int, rate_limit: int | None) -> None:
    from close_mcp.sandbox import SandboxConfig, run_sandbox
    from close_mcp.sandbox.app import Sandbox

    sandbox = Sandbox(SandboxConfig(leads=leads, rate_limit=rate_limit))
    sandbox.app.router.routes.append(_requests_route(sandbox))
    async with run_sandbox(sandbox=sandbox) as running:
        print(running.base_url, flush=True)
        print(running.api_key, flush=True)
        while not running.server.should_exit:
            await anyio.sleep(0.2)


class SandboxProcess:
    """``python -m bench.sandbox_process`` as a subprocess: ``base_url`` (with ``/api/v1``), ``api_key``,
    and its figures over HTTP."""

    def __init__(self, leads: int = 260, rate_limit: int | None = None) -> None:
        self.leads, self.rate_limit = leads, rate_limit

    def __enter__(self) -> SandboxProcess:
        cmd = [sys.executable, "-m", "bench.sandbox_process", "--leads", str(self.leads)]
        if self.rate_limit:
            cmd += ["--rate-limit", str(self.rate_limit)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout
        self.base_url = self.proc.stdout.readline().strip()
        self.api_key = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http") or not self.api_key:
            self.__exit__()
            raise RuntimeError("the sandbox process did not start")
        self.root = self.base_url.removesuffix("/api/v1")
        self.http = httpx2.Client(base_url=self.root, auth=(self.api_key, ""), timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        if hasattr(self, "http"):
            self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()

    @property
    def key(self) -> str:
        return self.api_key

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a close-mcp (or floor) subprocess needs to reach this sandbox."""
        import os

        return {
            "PATH": os.environ["PATH"],
            "CLOSE_API_KEY": self.api_key,
            "CLOSE_API_BASE_URL": self.base_url,
            "CLOSE_MCP_AUDIT_LOG": "off",
            **extra,
        }

    def stats(self) -> dict[str, Any]:
        """``/_sandbox/stats``: ``statuses`` (code → count; JSON keys are strings), ``requests``, ``served_429``."""
        answer = self.http.get("/_sandbox/stats")
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def requests_since(self, since: int) -> list[dict[str, Any]]:
        """The request log from index ``since`` (take ``stats()["requests"]`` before the measured part)."""
        answer = self.http.get(REQUESTS_ROUTE, params={"since": since})
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()["requests"]
        return found

    def set_rate_limit(self, per_key: int | None) -> None:
        """``/_sandbox/limits``: a new limit per key and endpoint group (None = the generous default)."""
        self.http.post("/_sandbox/limits", json={"rate_limit": per_key}).raise_for_status()

    def lead_ids(self, count: int = 1) -> list[str]:
        answer = self.http.get("/api/v1/lead/", params={"_limit": count, "_fields": "id"})
        answer.raise_for_status()
        return [item["id"] for item in answer.json()["data"]]

    def note_texts(self, lead_id: str) -> list[str]:
        """The text of every note on a lead (``GET /activity/note/``, page by page)."""
        texts: list[str] = []
        while True:
            answer = self.http.get(
                "/api/v1/activity/note/",
                params={"lead_id": lead_id, "_limit": 100, "_skip": len(texts), "_fields": "note"},
            )
            answer.raise_for_status()
            body = answer.json()
            texts += [item.get("note", "") for item in body["data"]]
            if not body.get("has_more") or not body["data"]:
                return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=260)
    parser.add_argument("--rate-limit", type=int, default=None)
    args = parser.parse_args()
    anyio.run(_serve, args.leads, args.rate_limit)


if __name__ == "__main__":
    main()
