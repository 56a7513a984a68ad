"""Close credentials: an API key (HTTP Basic, key as user, blank password) or an OAuth token."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

CredentialKind = Literal["api_key", "oauth"]
# Where a credential came from, which decides what to tell the user when Close refuses it:
# ``server``: close-mcp's own configuration (CLOSE_API_KEY / CLOSE_ACCESS_TOKEN, or the sandbox);
# ``client``: the remote client's own Close-API-Key / Close-Access-Token header.
CredentialOrigin = Literal["server", "client"]


class MissingCredential(Exception):
    """A call has no Close credential to run with (a remote client sent none and the server has none)."""


@dataclass(frozen=True)
class Credential:
    """A Close API key (HTTP Basic, key as user, blank password) or an OAuth access token."""

    secret: str
    kind: CredentialKind = "api_key"
    origin: CredentialOrigin = field(default="server", compare=False)

    @property
    def source(self) -> CredentialSource:
        return CredentialSource(self.kind, self.origin)

    @cached_property  # asked for several times per call (buckets, cursors, caches): hashed once
    def fingerprint(self) -> str:
        """Stable, non-reversible identity for buckets, cursors and logs."""
        return hashlib.sha256(f"close-mcp:{self.kind}:{self.secret}".encode()).hexdigest()[:16]

    def auth_header(self) -> str:
        if self.kind == "oauth":
            return f"Bearer {self.secret}"
        return "Basic " + base64.b64encode(f"{self.secret}:".encode()).decode()

    def __repr__(self) -> str:  # never print the secret
        return f"Credential(kind={self.kind!r}, origin={self.origin!r}, fingerprint={self.fingerprint!r})"


@dataclass(frozen=True)
class CredentialSource:
    """What an error message may say about a call's credential: its kind and origin, never the secret."""

    kind: CredentialKind = "api_key"
    origin: CredentialOrigin = "server"
