"""The OAuth records (clients, pending sign-ins, codes, grants, tokens) over any
:class:`~close_mcp.shared_store.SharedStore`: JSON values encrypted with Fernet (AES-128-CBC +
HMAC), keys that never contain a secret (tokens and codes are hashed into them)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from close_mcp.settings_error import SettingsError
from close_mcp.shared_store import SharedStore, hashed


def load_key(explicit: str | None, key_file: Path) -> bytes:
    """The operator's key (``CLOSE_MCP_OAUTH_KEY``), or one kept in an owner-only file beside the
    store, created on first start."""
    if explicit:
        key = explicit.encode()
    elif key_file.exists():
        key = key_file.read_bytes().strip()
    else:
        key = Fernet.generate_key()
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
    try:
        Fernet(key)
    except ValueError:
        raise SettingsError(
            "CLOSE_MCP_OAUTH_KEY must be a Fernet key (32 url-safe base64 bytes); "
            'make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        ) from None
    return key


class Records:
    def __init__(self, store: SharedStore, key: bytes) -> None:
        self.store, self._fernet = store, Fernet(key)

    @staticmethod
    def key(kind: str, name: str, secret: bool = False) -> str:
        return f"oauth:{kind}:{hashed(name) if secret else name}"

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self.store.get(key)
        if raw is None:
            return None
        try:
            value: dict[str, Any] = json.loads(self._fernet.decrypt(raw.encode()))
        except InvalidToken:  # written with another key: as good as absent
            return None
        return value

    def _seal(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    async def put(self, key: str, value: dict[str, Any], ttl: float) -> None:
        await self.store.put(key, self._seal(value), ttl)

    async def claim(self, key: str, value: dict[str, Any], ttl: float) -> bool:
        return await self.store.claim(key, self._seal(value), ttl)

    async def delete(self, key: str) -> None:
        await self.store.delete(key)
