"""Close credentials: an API key (HTTP Basic, key as user, blank password) or an OAuth token."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Literal

CredentialKind = Literal["api_key", "oauth"]


class MissingCredential(Exception):
    """A call has no Close credential to run with (a remote client sent none and the server has none)."""


@dataclass(frozen=True)
class Credential:
    """A Close API key (HTTP Basic, key as user, blank password) or an OAuth access token."""

    secret: str
    kind: CredentialKind = "api_key"

    @property
    def fingerprint(self) -> str:
        """Stable, non-reversible identity for buckets, cursors and logs."""
        return hashlib.sha256(f"close-mcp:{self.kind}:{self.secret}".encode()).hexdigest()[:16]

    def auth_header(self) -> str:
        if self.kind == "oauth":
            return f"Bearer {self.secret}"
        return "Basic " + base64.b64encode(f"{self.secret}:".encode()).decode()

    def __repr__(self) -> str:  # never print the secret
        return f"Credential(kind={self.kind!r}, fingerprint={self.fingerprint!r})"
