"""A :class:`~close_mcp.shared_store.SharedStore` kept in one owner-only JSON file, so registered
clients and grants survive a restart of a single server. Expiry is wall-clock (a restart keeps it);
every write replaces the file atomically (temporary file, then rename). Values are stored as given:
the OAuth layer encrypts them before they get here (:mod:`.records`). Leases live in memory (one
process owns the file)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from close_mcp.settings_error import SettingsError
from close_mcp.shared_store import MemoryStore


class FileStore:
    kind = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._values: dict[str, tuple[str, float]] = {}
        self._leases = MemoryStore()
        if path.exists():
            try:
                raw = json.loads(path.read_text() or "{}")
                now = time.time()
                self._values = {str(k): (str(v), float(exp)) for k, (v, exp) in raw.items() if exp > now}
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                raise SettingsError(
                    f"{path}: not a readable close-mcp OAuth store ({type(exc).__name__}); "
                    "move it away (every user then signs in again) or point CLOSE_MCP_OAUTH_STORE elsewhere"
                ) from None

    def _live(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= time.time():
            del self._values[key]
            return None
        return entry[0]

    def _save(self) -> None:
        now = time.time()
        data = {k: [v, exp] for k, (v, exp) in self._values.items() if exp > now}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.chmod(tmp, 0o600)  # also when the file existed with wider permissions
        tmp.replace(self.path)

    async def claim(self, key: str, value: str, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        await self.put(key, value, ttl)
        return True

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def put(self, key: str, value: str, ttl: float) -> None:
        self._values[key] = (value, time.time() + ttl)
        self._save()

    async def delete(self, key: str) -> None:
        if self._values.pop(key, None) is not None:
            self._save()

    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        return await self._leases.lease(name, holder, ttl)

    async def release(self, name: str, holder: str) -> None:
        await self._leases.release(name, holder)
