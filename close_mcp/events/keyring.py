"""The signature keys of this server's Close webhook subscriptions, kept as a secret.

One JSON file, created owner-only (0600) in an owner-only folder, replaced atomically:
``{"subscriptions": {"whsub_…": {"key": "<hex>", "url": "…", "retire_at": null}}}``. A key is
never logged or shown: :meth:`KeyRing.describe` lists subscriptions without them.

Rotation (Close has no "new key" call; close-api.md §5.3): a new subscription is created with a
new key while the old one keeps delivering; the old entry gets ``retire_at`` (the overlap), both
keys verify until then, and dedupe by event ID drops the events both subscriptions deliver.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from close_mcp.settings_error import SettingsError


@dataclass
class KeyEntry:
    key: str
    url: str = ""
    retire_at: float | None = None  # Unix time after which this key is no longer accepted

    def accepted(self, now: float) -> bool:
        return self.retire_at is None or now < self.retire_at


@dataclass
class KeyRing:
    path: Path | None = None  # None: in memory only (tests, a sandbox demo)
    entries: dict[str, KeyEntry] = field(default_factory=dict)
    _mtime: float = -1.0

    @classmethod
    def load(cls, path: Path | None) -> KeyRing:
        ring = cls(path)
        ring.reload()
        return ring

    def reload(self) -> None:
        """Re-read the file when it changed (a `close-mcp webhooks` command run beside the server)."""
        if self.path is None:
            return
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self.entries, self._mtime = {}, -1.0
            return
        if not self.path.is_file():
            raise SettingsError(f"{self.path}: the webhook key file must be a regular file")
        if mtime == self._mtime:
            return
        data = json.loads(self.path.read_text())
        self.entries = {
            sub_id: KeyEntry(str(e["key"]), str(e.get("url", "")), e.get("retire_at"))
            for sub_id, e in (data.get("subscriptions") or {}).items()
        }
        self._mtime = mtime

    def accepted_keys(self, now: float | None = None) -> list[str]:
        self.reload()
        at = time.time() if now is None else now
        return [e.key for e in self.entries.values() if e.accepted(at)]

    def put(self, subscription_id: str, key: str, url: str) -> None:
        self.entries[subscription_id] = KeyEntry(key, url)
        self.save()

    def retire(self, subscription_id: str, at: float) -> None:
        if subscription_id in self.entries:
            self.entries[subscription_id].retire_at = at
            self.save()

    def remove(self, subscription_id: str) -> None:
        if self.entries.pop(subscription_id, None) is not None:
            self.save()

    def describe(self) -> list[dict[str, Any]]:
        """The subscriptions, without their keys (safe to print)."""
        return [
            {"subscription_id": sub_id, "url": e.url, "retire_at": e.retire_at}
            for sub_id, e in sorted(self.entries.items())
        ]

    def save(self) -> None:
        if self.path is None:
            return
        if self.path.exists() and not self.path.is_file():
            raise SettingsError(f"{self.path}: the webhook key file must be a regular file")
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = {"subscriptions": {k: vars(e) for k, e in self.entries.items()}}
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)
        self._mtime = self.path.stat().st_mtime
