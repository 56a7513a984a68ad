"""Settings from environment variables and CLI flags (flags win)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from close_mcp.client import DEFAULT_BASE_URL, Credential
from close_mcp.executor import DEFAULT_OUTPUT_BUDGET


class SettingsError(Exception):
    """A one-line configuration problem shown at start-up instead of a traceback."""


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


@dataclass
class Settings:
    api_key: str | None = None
    access_token: str | None = None
    base_url: str = DEFAULT_BASE_URL
    log_level: str = "WARNING"
    wait_budget: float = 60.0
    output_budget: int = DEFAULT_OUTPUT_BUDGET
    sandbox: bool = False
    scope: str | None = None
    toolsets: list[str] = field(default_factory=lambda: ["all"])

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            api_key=os.environ.get("CLOSE_API_KEY") or None,
            access_token=os.environ.get("CLOSE_ACCESS_TOKEN") or None,
            base_url=os.environ.get("CLOSE_API_BASE_URL") or DEFAULT_BASE_URL,
            log_level=(os.environ.get("CLOSE_MCP_LOG_LEVEL") or "WARNING").upper(),
            wait_budget=_float_env("CLOSE_MCP_WAIT_BUDGET", 60.0),
            output_budget=int(_float_env("CLOSE_MCP_OUTPUT_BUDGET", DEFAULT_OUTPUT_BUDGET)),
            scope=os.environ.get("CLOSE_MCP_SCOPE") or None,
            toolsets=[
                t.strip() for t in (os.environ.get("CLOSE_MCP_TOOLSETS") or "all").split(",") if t.strip()
            ],
        )

    def credential(self) -> Credential:
        if self.api_key:
            return Credential(self.api_key, "api_key")
        if self.access_token:
            return Credential(self.access_token, "oauth")
        raise SettingsError(
            "no Close credential: set CLOSE_API_KEY (or CLOSE_ACCESS_TOKEN), "
            "or run `close-mcp --sandbox` to try it on the local demo organization"
        )

    def validate(self) -> None:
        if self.output_budget < 1000:
            raise SettingsError("the output budget must be at least 1000 characters")
        if self.wait_budget < 0:
            raise SettingsError("the wait budget cannot be negative")
        if not self.base_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise SettingsError("CLOSE_API_BASE_URL must be https (plain http only on loopback)")
