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
# An open streamable-HTTP session holds ~0.25 MB (bench/remote_load.py --abandoned measures it): idle
# ones go after 5 minutes, and at most 500 are kept, the longest idle closed first to admit a new one.
DEFAULT_SESSION_TIMEOUT = 300.0
DEFAULT_MAX_SESSIONS = 500
DEFAULT_OAUTH_AUTHORIZE_URL = "https://app.close.com/oauth2/authorize/"
DEFAULT_OAUTH_TOKEN_URL = "https://api.close.com/oauth2/token/"
Transport = Literal["http", "sse", "streamable-http", "stdio"]
TRANSPORTS: tuple[Transport, ...] = ("http", "sse", "streamable-http", "stdio")
EVENT_MODES = ("push", "follow", "off")
RESULT_FORMS = ("text", "structured", "both")  # how a result carries its data: close_mcp/result_forms.py


def _number(name: str, raw: str, kind: Callable[[str], Any]) -> Any:
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _comma_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _flag(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _unfilled(raw: str) -> bool:
    """A host left a placeholder unfilled: MCP bundle hosts pass an optional ``user_config`` value the
    user never set as the literal ``${user_config.NAME}`` text. Such a value counts as unset."""
    return raw.startswith("${") and raw.endswith("}")


@dataclass(frozen=True)
class EnvVar:
    """One environment variable: the setting it fills, how its text is parsed, what it means."""

    setting: str
    variable: str
    parse: Callable[[str], Any]
    help: str


# The one table of environment variables (``--help`` and the README's configuration table list it).
ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("api_key", "CLOSE_API_KEY", str, "Close API key (HTTP Basic user, blank password)"),
    EnvVar(
        "access_token", "CLOSE_ACCESS_TOKEN", str, "Close OAuth access token, used when no API key is set"
    ),
    EnvVar("base_url", "CLOSE_API_BASE_URL", str, f"Close API base URL (default {DEFAULT_BASE_URL})"),
    EnvVar("sandbox", "CLOSE_MCP_SANDBOX", _flag, "1/true: serve the embedded Close sandbox (no key needed)"),
    EnvVar("log_level", "CLOSE_MCP_LOG_LEVEL", str.upper, "DEBUG, INFO, WARNING (logs go to stderr)"),
    EnvVar("wait_budget", "CLOSE_MCP_WAIT_BUDGET", float, "max seconds one call waits on rate limits (60)"),
    EnvVar(
        "output_budget",
        "CLOSE_MCP_OUTPUT_BUDGET",
        lambda raw: int(float(raw)),
        "max characters of one tool result (20000)",
    ),
    EnvVar(
        "result_form",
        "CLOSE_MCP_RESULT_FORM",
        str.lower,
        "text (JSON as text, default), structured (structuredContent + a pointer) or both",
    ),
    EnvVar("http_timeout", "CLOSE_MCP_HTTP_TIMEOUT", float, "seconds to wait for Close to answer (30)"),
    EnvVar("scope", "CLOSE_MCP_SCOPE", str, "read, write_safe or write_destructive"),
    EnvVar(
        "toolsets",
        "CLOSE_MCP_TOOLSETS",
        _comma_list,
        "comma list of areas to list: default (daily tools; the rest discoverable), all, or toolset names",
    ),
    EnvVar("tools", "CLOSE_MCP_TOOLS", _comma_list, "comma list of tools listed in addition to the toolsets"),
    EnvVar("exclude_tools", "CLOSE_MCP_EXCLUDE_TOOLS", _comma_list, "comma list of tools never served"),
    EnvVar(
        "extra_manifests",
        "CLOSE_MCP_EXTRA_MANIFESTS",
        lambda raw: [Path(p) for p in _comma_list(raw)],
        "comma list of folders with your own tool manifests",
    ),
    EnvVar(
        "cache_dir",
        "CLOSE_MCP_CACHE_DIR",
        str,
        "folder of the compiled tool manifests (~/.cache/close-mcp), or off to compile at every start",
    ),
    EnvVar("policy", "CLOSE_MCP_POLICY", Path, "per-agent grants file (TOML or JSON)"),
    EnvVar("audit_log", "CLOSE_MCP_AUDIT_LOG", str, "JSON-lines audit file, or off"),
    EnvVar("audit_fsync", "CLOSE_MCP_AUDIT_FSYNC", _flag, "1: fsync every audit line"),
    EnvVar("transport", "CLOSE_MCP_TRANSPORT", str, "serve: http, sse, streamable-http or stdio"),
    EnvVar("host", "CLOSE_MCP_HOST", str, "serve: address to listen on (127.0.0.1)"),
    EnvVar("port", "CLOSE_MCP_PORT", int, "serve: port to listen on (8000)"),
    EnvVar(
        "session_timeout",
        "CLOSE_MCP_SESSION_TIMEOUT",
        float,
        f"serve: seconds an idle streamable-HTTP session is kept ({DEFAULT_SESSION_TIMEOUT:.0f})",
    ),
    EnvVar(
        "max_sessions",
        "CLOSE_MCP_MAX_SESSIONS",
        int,
        f"serve: open sessions at most; the longest idle is closed first ({DEFAULT_MAX_SESSIONS})",
    ),
    EnvVar(
        "system_malloc",
        "CLOSE_MCP_SYSTEM_MALLOC",
        _flag,
        "serve: 1 = re-run under PYTHONMALLOC=malloc: ended sessions' memory goes back to the OS, "
        "at ~17% more CPU per call (default 0)",
    ),
    EnvVar("stateless", "CLOSE_MCP_STATELESS", _flag, "serve: 1 = stateless streamable HTTP"),
    EnvVar("auth_tokens", "CLOSE_MCP_AUTH_TOKENS", str, "serve: bearer tokens, name:token,name2:token2"),
    EnvVar("tokens_file", "CLOSE_MCP_TOKENS_FILE", Path, "serve: file of '<agent> sha256:<hex>' lines"),
    EnvVar("allowed_hosts", "CLOSE_MCP_ALLOWED_HOSTS", _comma_list, "serve: extra Host values allowed"),
    EnvVar("allowed_origins", "CLOSE_MCP_ALLOWED_ORIGINS", _comma_list, "serve: extra Origin values allowed"),
    EnvVar(
        "redis_url",
        "CLOSE_MCP_REDIS_URL",
        str,
        "redis://host:6379/0: replicas share rate limits, records and session streams there",
    ),
    EnvVar(
        "public_url",
        "CLOSE_MCP_PUBLIC_URL",
        str,
        "serve: public URL of this server (OAuth metadata, webhook target)",
    ),
    EnvVar(
        "oauth", "CLOSE_MCP_OAUTH", _flag, "serve: 1 = users sign in with Close (OAuth) instead of tokens"
    ),
    EnvVar(
        "oauth_client_id", "CLOSE_OAUTH_CLIENT_ID", str, "serve --oauth: your Close OAuth app's client id"
    ),
    EnvVar("oauth_client_secret", "CLOSE_OAUTH_CLIENT_SECRET", str, "serve --oauth: its client secret"),
    EnvVar(
        "oauth_authorize_url",
        "CLOSE_OAUTH_AUTHORIZE_URL",
        str,
        f"serve --oauth: ({DEFAULT_OAUTH_AUTHORIZE_URL})",
    ),
    EnvVar("oauth_token_url", "CLOSE_OAUTH_TOKEN_URL", str, f"serve --oauth: ({DEFAULT_OAUTH_TOKEN_URL})"),
    EnvVar("oauth_store", "CLOSE_MCP_OAUTH_STORE", Path, "serve --oauth: encrypted grants file (owner-only)"),
    EnvVar(
        "oauth_key", "CLOSE_MCP_OAUTH_KEY", str, "serve --oauth: Fernet key for the grants (else a key file)"
    ),
    EnvVar(
        "events",
        "CLOSE_MCP_EVENTS",
        str.lower,
        "live Close events: push (webhooks; default for serve), follow (poll the Event Log), off "
        "(default for stdio)",
    ),
    EnvVar("webhook_path", "CLOSE_MCP_WEBHOOK_PATH", str, "serve: path of the webhook receiver"),
    EnvVar(
        "webhook_keys",
        "CLOSE_MCP_WEBHOOK_KEYS",
        Path,
        "owner-only file of webhook signature keys (~/.config/close-mcp/webhook-keys.json)",
    ),
    EnvVar(
        "events_state",
        "CLOSE_MCP_EVENTS_STATE",
        Path,
        "file keeping the last event position and dedupe window across restarts "
        "(~/.config/close-mcp/events-state.json)",
    ),
    EnvVar(
        "webhook_tolerance",
        "CLOSE_MCP_WEBHOOK_TOLERANCE",
        float,
        "seconds a webhook's close-sig-timestamp may differ from now (300)",
    ),
    EnvVar(
        "follow_max_interval",
        "CLOSE_MCP_FOLLOW_MAX_INTERVAL",
        float,
        "follow: longest pause between Event Log polls when idle, seconds (30)",
    ),
)


def environment_help() -> str:
    """The environment variables, one a line, for ``--help``."""
    width = max(len(v.variable) for v in ENV_VARS)
    lines = [f"  {v.variable.ljust(width)}  {v.help}" for v in ENV_VARS]
    return "environment variables (a flag wins over its variable):\n" + "\n".join(lines)


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
    result_form: str = "text"  # or structured, both (RESULT_FORMS)
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    # which tools, for whom, and the record of what they did
    scope: str | None = None
    toolsets: list[str] = field(default_factory=lambda: ["default"])
    tools: list[str] = field(default_factory=list)  # listed in addition to the toolsets
    exclude_tools: list[str] = field(default_factory=list)  # never served
    extra_manifests: list[Path] = field(default_factory=list)
    cache_dir: str | None = None  # None = ~/.cache/close-mcp; "off" = compile the manifests every start
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
    session_timeout: float = DEFAULT_SESSION_TIMEOUT
    max_sessions: int = DEFAULT_MAX_SESSIONS
    system_malloc: bool = False  # close_mcp/allocator.py: serve re-executes under PYTHONMALLOC=malloc
    client_keys: bool = True  # accept per-client Close-API-Key / Close-Access-Token headers
    # several replicas: shared state in Redis/Valkey (None = one process, state in memory)
    redis_url: str | None = None
    public_url: str | None = None
    # sign in with Close (close_mcp.oauth); with --sandbox the sandbox plays Close's OAuth app
    oauth: bool = False
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None
    oauth_authorize_url: str = DEFAULT_OAUTH_AUTHORIZE_URL
    oauth_token_url: str = DEFAULT_OAUTH_TOKEN_URL
    oauth_store: Path | None = None  # None = ~/.close-mcp/oauth-grants.json
    oauth_key: str | None = None
    # live events (close_mcp/events): None = the mode's default (push for serve, off for stdio)
    events: str | None = None
    webhook_path: str = "/webhooks/close"
    webhook_keys: Path | None = None
    events_state: Path | None = None
    webhook_tolerance: float = 300.0
    webhook_max_body: int = 1_000_000
    follow_min_interval: float = 1.0
    follow_max_interval: float = 30.0

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None
    ) -> Settings:
        """Environment first, then the flags that were given (``None`` = not given); validated."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var in ENV_VARS:
            raw = environ.get(var.variable)
            if raw and not _unfilled(raw):
                values[var.setting] = _number(var.variable, raw, var.parse)
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

    def manifest_cache_dir(self, home: Path | None = None) -> Path | None:
        """Where compiled manifests are kept (close_mcp.manifest_cache); None: compile every start."""
        if self.cache_dir == "off":
            return None
        if self.cache_dir:
            return Path(self.cache_dir)
        try:
            return (home or Path.home()) / ".cache" / "close-mcp"
        except RuntimeError:  # no home directory to be found: nothing to keep a cache in
            return None

    def events_mode(self, remote: bool) -> str:
        """``push``, ``follow`` or ``off``: as set, else push when serving remotely (the receiver costs
        nothing until Close delivers) and off over stdio (following spends the user's rate limit)."""
        return self.events or ("push" if remote else "off")

    def check_events(self, remote: bool) -> None:
        """Refuse an events mode this server cannot run, before anything starts."""
        mode = self.events_mode(remote)
        if mode == "push" and not remote:
            raise SettingsError(
                "--events push needs the remote server (close-mcp serve) for Close to deliver to; "
                "over stdio use --events follow"
            )
        if mode == "follow" and remote and not (self.sandbox or self.credential()):
            raise SettingsError("--events follow needs a server-wide Close credential (CLOSE_API_KEY)")

    def webhook_keys_path(self, home: Path | None = None) -> Path | None:
        """The key file; on the embedded sandbox none unless set (its subscriptions die with it, and
        must never mix with a real account's keys)."""
        if self.webhook_keys or self.sandbox:
            return self.webhook_keys
        return (home or Path.home()) / ".config" / "close-mcp" / "webhook-keys.json"

    def events_state_path(self, home: Path | None = None) -> Path | None:
        """Where the follow position and recent event IDs survive a restart (same rule as the keys)."""
        if self.events_state or self.sandbox:
            return self.events_state
        return (home or Path.home()) / ".config" / "close-mcp" / "events-state.json"

    def validate(self) -> None:
        if self.output_budget < 1000:
            raise SettingsError("the output budget must be at least 1000 characters")
        if self.result_form not in RESULT_FORMS:
            raise SettingsError(
                f"unknown result form {self.result_form!r}; choose from: {', '.join(RESULT_FORMS)} "
                "(text unless your host reads structuredContent)"
            )
        if self.wait_budget < 0:
            raise SettingsError("the wait budget cannot be negative")
        if self.http_timeout <= 0:
            raise SettingsError("the HTTP timeout must be positive")
        if self.session_timeout <= 0 or self.max_sessions < 1:
            raise SettingsError("the session timeout and the session cap must be positive")
        if not self.base_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise SettingsError("CLOSE_API_BASE_URL must be https (plain http only on loopback)")
        if self.scope is not None and self.scope not in SCOPES:
            raise SettingsError(f"unknown scope {self.scope!r}; choose from: {', '.join(SCOPES)}")
        if self.transport not in TRANSPORTS:
            raise SettingsError(f"unknown transport {self.transport!r}; choose from: {', '.join(TRANSPORTS)}")
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(
                "CLOSE_MCP_REDIS_URL must be a redis://, rediss:// or unix:// URL (e.g. redis://127.0.0.1:6379/0)"
            )
        if not self.toolsets:
            self.toolsets = ["default"]
        if self.oauth and not self.sandbox and not (self.oauth_client_id and self.oauth_client_secret):
            raise SettingsError(
                "--oauth needs your Close OAuth app: set CLOSE_OAUTH_CLIENT_ID and CLOSE_OAUTH_CLIENT_SECRET "
                "(Close: Settings → Developer → OAuth Apps), or add --sandbox to try it on the sandbox"
            )
        if self.events is not None and self.events not in EVENT_MODES:
            raise SettingsError(f"unknown events mode {self.events!r}; choose from: {', '.join(EVENT_MODES)}")
        if not self.webhook_path.startswith("/") or self.webhook_path.startswith(
            ("/mcp", "/sse", "/messages")
        ):
            raise SettingsError("CLOSE_MCP_WEBHOOK_PATH must start with / and not collide with /mcp, /sse")
        if self.webhook_tolerance <= 0:
            raise SettingsError("CLOSE_MCP_WEBHOOK_TOLERANCE must be positive")
        if not 0 < self.follow_min_interval <= self.follow_max_interval:
            raise SettingsError("CLOSE_MCP_FOLLOW_MAX_INTERVAL must be at least the minimum interval (1 s)")
        if self.public_url is not None and not self.public_url.startswith(
            ("https://", "http://127.0.0.1", "http://localhost")
        ):
            raise SettingsError("CLOSE_MCP_PUBLIC_URL must be https (plain http only on loopback)")
