"""Every setting of close-mcp, read in this one place: environment variables, then CLI flags (flags win).

Nothing else reads ``os.environ``. :meth:`Settings.load` takes the environment and the parsed
flags and returns a validated :class:`Settings`, or raises a one-line :class:`SettingsError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from close_mcp.access import SCOPES
from close_mcp.credentials import Credential
from close_mcp.settings_error import SettingsError

DEFAULT_BASE_URL = "https://api.close.com/api/v1"
DEFAULT_OUTPUT_BUDGET = 20_000
DEFAULT_WAIT_BUDGET = 60.0
DEFAULT_HTTP_TIMEOUT = 30.0
Transport = Literal["http", "sse", "streamable-http", "stdio"]
TRANSPORTS: tuple[Transport, ...] = ("http", "sse", "streamable-http", "stdio")


def _number(name: str, raw: str, kind: Callable[[str], Any]) -> Any:
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _comma_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


# setting name -> (environment variable, parser of its text)
_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "api_key": ("CLOSE_API_KEY", str),
    "access_token": ("CLOSE_ACCESS_TOKEN", str),
    "base_url": ("CLOSE_API_BASE_URL", str),
    "log_level": ("CLOSE_MCP_LOG_LEVEL", str.upper),
    "wait_budget": ("CLOSE_MCP_WAIT_BUDGET", float),
    "output_budget": ("CLOSE_MCP_OUTPUT_BUDGET", lambda raw: int(float(raw))),
    "http_timeout": ("CLOSE_MCP_HTTP_TIMEOUT", float),
    "scope": ("CLOSE_MCP_SCOPE", str),
    "toolsets": ("CLOSE_MCP_TOOLSETS", _comma_list),
    "tools": ("CLOSE_MCP_TOOLS", _comma_list),
    "exclude_tools": ("CLOSE_MCP_EXCLUDE_TOOLS", _comma_list),
    "extra_manifests": ("CLOSE_MCP_EXTRA_MANIFESTS", lambda raw: [Path(p) for p in _comma_list(raw)]),
    "policy": ("CLOSE_MCP_POLICY", Path),
    "audit_log": ("CLOSE_MCP_AUDIT_LOG", str),
    "audit_fsync": ("CLOSE_MCP_AUDIT_FSYNC", lambda raw: raw == "1"),
    "transport": ("CLOSE_MCP_TRANSPORT", str),
    "host": ("CLOSE_MCP_HOST", str),
    "port": ("CLOSE_MCP_PORT", int),
    "stateless": ("CLOSE_MCP_STATELESS", lambda raw: raw == "1"),
    "auth_tokens": ("CLOSE_MCP_AUTH_TOKENS", str),
    "tokens_file": ("CLOSE_MCP_TOKENS_FILE", Path),
    "allowed_hosts": ("CLOSE_MCP_ALLOWED_HOSTS", _comma_list),
    "allowed_origins": ("CLOSE_MCP_ALLOWED_ORIGINS", _comma_list),
}


@dataclass
class Settings:
    # Close
    api_key: str | None = None
    access_token: str | None = None
    base_url: str = DEFAULT_BASE_URL
    sandbox: bool = False
    # calls
    log_level: str = "WARNING"
    wait_budget: float = DEFAULT_WAIT_BUDGET
    output_budget: int = DEFAULT_OUTPUT_BUDGET
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    # which tools, for whom, and the record of what they did
    scope: str | None = None
    toolsets: list[str] = field(default_factory=lambda: ["default"])
    tools: list[str] = field(default_factory=list)  # listed in addition to the toolsets
    exclude_tools: list[str] = field(default_factory=list)  # never served
    extra_manifests: list[Path] = field(default_factory=list)
    policy: Path | None = None
    audit_log: str | None = None  # None = the mode's default (off for stdio, a file for serve)
    audit_fsync: bool = False
    # remote server
    transport: Transport = "http"
    host: str = "127.0.0.1"
    port: int = 8000
    stateless: bool = False
    auth_tokens: str | None = None
    tokens_file: Path | None = None
    allowed_hosts: list[str] = field(default_factory=list)
    allowed_origins: list[str] = field(default_factory=list)
    max_body: int = 1_000_000
    session_timeout: float = 1800.0
    client_keys: bool = True  # accept per-client Close-API-Key / Close-Access-Token headers

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None
    ) -> Settings:
        """Environment first, then the flags that were given (``None`` = not given); validated."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, (variable, parse) in _ENV.items():
            raw = environ.get(variable)
            if raw:
                values[name] = _number(variable, raw, parse)
        known = {f.name for f in fields(cls)}
        values.update({k: v for k, v in (flags or {}).items() if k in known and v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    @property
    def effective_scope(self) -> str:
        """The scope asked for, or the default: everything on the sandbox, no deletes with a real key."""
        return self.scope or ("write_destructive" if self.sandbox else "write_safe")

    def credential(self) -> Credential | None:
        if self.api_key:
            return Credential(self.api_key, "api_key")
        if self.access_token:
            return Credential(self.access_token, "oauth")
        return None

    def require_credential(self) -> Credential:
        credential = self.credential()
        if credential is None:
            raise SettingsError(
                "no Close credential: set CLOSE_API_KEY (or CLOSE_ACCESS_TOKEN), "
                "or run `close-mcp --sandbox` to try it on the local demo organization"
            )
        return credential

    def audit_path(self, default: str | None) -> Path | None:
        where = self.audit_log or default
        return None if not where or where == "off" else Path(where)

    def validate(self) -> None:
        if self.output_budget < 1000:
            raise SettingsError("the output budget must be at least 1000 characters")
        if self.wait_budget < 0:
            raise SettingsError("the wait budget cannot be negative")
        if self.http_timeout <= 0:
            raise SettingsError("the HTTP timeout must be positive")
        if not self.base_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise SettingsError("CLOSE_API_BASE_URL must be https (plain http only on loopback)")
        if self.scope is not None and self.scope not in SCOPES:
            raise SettingsError(f"unknown scope {self.scope!r}; choose from: {', '.join(SCOPES)}")
        if self.transport not in TRANSPORTS:
            raise SettingsError(f"unknown transport {self.transport!r}; choose from: {', '.join(TRANSPORTS)}")
        if not self.toolsets:
            self.toolsets = ["default"]
