"""``idempotency_key``: a create repeated with the same key returns the first result, never a second object.

Records live in the :class:`~close_mcp.shared_store.SharedStore` (one process: ``MemoryStore``; replicas:
the shared store), under ``idem:<credential>:<tool>:<key>`` with the credential and the key hashed:

* the first call *claims* the record (``pending``, with the hash of its arguments) and, when it
  succeeds (a reconciled "done" included), *puts* its result there for :data:`KEEP_SECONDS` (a day);
* a repeat with the same arguments gets that result; one arriving while the first is still running
  waits for it (polling the store, as any replica can); a failed first call removes its claim, so the
  repeat writes;
* the same key with other arguments is an error naming ``idempotency_key``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from close_mcp.arguments import ToolInputError
from close_mcp.executor import ToolOutput
from close_mcp.shared_store import SharedStore, hashed
from close_mcp.trim import render

ARGUMENT = "idempotency_key"
KEEP_SECONDS = 24 * 3600.0
POLL_SECONDS = 0.05
# Arguments that do not change what is written: a repeat may differ in them.
_NOT_THE_WRITE = frozenset({ARGUMENT, "dry_run", "confirm"})


def arguments_hash(args: dict[str, Any]) -> str:
    the_write = {k: v for k, v in args.items() if k not in _NOT_THE_WRITE}
    return hashed(json.dumps(the_write, sort_keys=True, separators=(",", ":"), default=str))


class IdempotencyKeys:
    """Runs keyed calls at most once per (credential, tool, key) within :data:`KEEP_SECONDS`."""

    def __init__(self, store: SharedStore, *, pending_seconds: float = 300.0) -> None:
        self.store = store
        self.pending_seconds = pending_seconds  # how long a running first call holds its claim

    async def run(
        self,
        credential: str,
        tool: str,
        args: dict[str, Any],
        call: Callable[[], Awaitable[ToolOutput]],
    ) -> tuple[ToolOutput, bool]:
        """Run ``call`` once for this key, or return the first call's result (then True)."""
        key = f"idem:{hashed(credential)}:{tool}:{hashed(str(args[ARGUMENT]))}"
        digest = arguments_hash(args)
        owner = uuid.uuid4().hex
        claim = json.dumps({"state": "pending", "args": digest, "owner": owner})
        with anyio.fail_after(self.pending_seconds + 1):
            while not await self.store.claim(key, claim, self.pending_seconds):
                raw = await self.store.get(key)
                if raw is None:
                    continue  # the first call failed and let go: this one writes
                record = json.loads(raw)
                if record["args"] != digest:
                    raise ToolInputError(
                        f"Invalid arguments for {tool}: `{ARGUMENT}`: this key was already used with "
                        "different arguments (keys are kept for 24 h). Use a new key for a different "
                        "write, or repeat the first call's exact arguments to get its result."
                    )
                if record["state"] == "done":
                    return _replayed(record["structured"]), True
                await anyio.sleep(POLL_SECONDS)  # the first call is still running
        try:
            output = await call()
        except BaseException:  # the write failed (or was not made): a repeat may write
            await self._release(key, owner)
            raise
        done = {"state": "done", "args": digest, "structured": output.structured, "text": output.text}
        await self.store.put(key, json.dumps(done), KEEP_SECONDS)
        return output, False

    async def _release(self, key: str, owner: str) -> None:
        with anyio.CancelScope(shield=True):
            raw = await self.store.get(key)
            if raw is not None and json.loads(raw).get("owner") == owner:
                await self.store.delete(key)


REPLAYED = "Repeated idempotency_key: this is the first call's result; nothing was written again."


def _replayed(first: dict[str, Any]) -> ToolOutput:
    notice = " ".join(n for n in (str(first.get("notice") or ""), REPLAYED) if n)
    structured = {**first, "notice": notice}
    return ToolOutput(structured, render(structured))
