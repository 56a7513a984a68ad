"""``close-mcp doctor``: is this close-mcp ready to serve, and if not, what to fix.

It checks, in order: the Close API is reachable at the configured base URL; the credential works
(``GET /me/``: which user and organization it belongs to); the rate-limit headroom Close reports in
its ``RateLimit`` header; the scope and toolsets in effect; and the MCP host configuration files
it finds (Claude Desktop, Claude Code, Cursor, VS Code), whether their close-mcp entry starts a
command that exists. It never prints a secret. Exit status 0 when nothing needs fixing, else 1.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import httpx2

from close_mcp import __version__
from close_mcp.app import build_policy, load_specs, open_upstream
from close_mcp.commands.host_config import HOSTS, KEY_PLACEHOLDER, Host, installed_command
from close_mcp.credentials import Credential
from close_mcp.manifest import ManifestError
from close_mcp.ratelimit import parse_ratelimit
from close_mcp.settings import Settings
from close_mcp.settings_error import SettingsError

Status = Literal["ok", "fix", "info"]
_MARK = {"ok": "[ok] ", "fix": "[FIX]", "info": "[--] "}
LOW_HEADROOM = 0.1


@dataclass
class Finding:
    status: Status
    text: str
    fix: str | None = None


@dataclass
class Report:
    sections: list[tuple[str, list[Finding]]] = field(default_factory=list)

    def section(self, title: str) -> list[Finding]:
        findings: list[Finding] = []
        self.sections.append((title, findings))
        return findings

    @property
    def fixes(self) -> list[str]:
        return [f.fix or f.text for _, found in self.sections for f in found if f.status == "fix"]

    def render(self) -> str:
        lines: list[str] = []
        for title, findings in self.sections:
            lines.append(title)
            lines += [f"  {_MARK[f.status]} {f.text}" for f in findings]
            lines.append("")
        fixes = self.fixes
        if fixes:
            lines.append("What to fix:")
            lines += [f"  {n}. {fix}" for n, fix in enumerate(fixes, start=1)]
        else:
            lines.append("Nothing to fix.")
        return "\n".join(lines)


def _who(me: dict[str, Any]) -> str:
    name = " ".join(str(me[k]) for k in ("first_name", "last_name") if me.get(k)) or "a user"
    email = f" <{me['email']}>" if me.get("email") else ""
    orgs = [o for o in me.get("organizations") or [] if isinstance(o, dict)]
    where = ", ".join(f"{o.get('name', '?')} ({o.get('id', '?')})" for o in orgs) or "no organization"
    return f"{name}{email}, organization {where}"


def _describe(credential: Credential, sandbox: bool) -> str:
    if sandbox:
        return "the sandbox's demo key"
    return "CLOSE_API_KEY" if credential.kind == "api_key" else "CLOSE_ACCESS_TOKEN"


async def check_close(settings: Settings, found: list[Finding]) -> None:
    """Reachability, the credential (``/me/``) and the rate-limit headroom."""
    if not settings.sandbox and settings.credential() is None:
        found.append(
            Finding(
                "fix",
                "no Close credential is set",
                "Set CLOSE_API_KEY (Close: Settings → Developer → API Keys) in the host's configuration "
                "(`close-mcp config HOST` prints it), or try the demo data with --sandbox",
            )
        )
    async with open_upstream(settings) as upstream:
        credential = upstream.credential
        headers = {"Authorization": credential.auth_header()} if credential else {}
        timeout = httpx2.Timeout(min(settings.http_timeout, 15.0))
        try:
            async with httpx2.AsyncClient(timeout=timeout) as http:
                response = await http.get(upstream.base_url.rstrip("/") + "/me/", headers=headers)
        except httpx2.HTTPError as exc:
            found.append(
                Finding(
                    "fix",
                    f"cannot reach {upstream.base_url}: {type(exc).__name__}: {exc}",
                    f"Check the network (proxy, firewall) or CLOSE_API_BASE_URL ({upstream.base_url})",
                )
            )
            return
        found.append(Finding("ok", f"reachable: {upstream.base_url} answered HTTP {response.status_code}"))
        if credential is None:
            return
        what = _describe(credential, settings.sandbox)
        if response.status_code == 401:
            found.append(
                Finding(
                    "fix",
                    f"Close refused {what} (401 Unauthorized)",
                    f"Set a valid {what} (Close: Settings → Developer → API Keys); it is invalid, revoked "
                    "or expired",
                )
            )
        elif response.status_code == 200:
            try:
                me = response.json()
            except ValueError:
                me = {}
            found.append(Finding("ok", f"{what} belongs to {_who(me if isinstance(me, dict) else {})}"))
        else:
            found.append(
                Finding(
                    "fix",
                    f"GET /me/ answered HTTP {response.status_code}",
                    f"Close answered {response.status_code} to GET /me/: check CLOSE_API_BASE_URL "
                    f"({upstream.base_url}) points at the Close API v1",
                )
            )
            return
        limit = parse_ratelimit(response.headers.get("ratelimit"))
        if limit is None:
            found.append(Finding("info", "Close sent no RateLimit header on /me/; headroom unknown"))
        elif limit.limit and limit.remaining / limit.limit < LOW_HEADROOM:
            found.append(
                Finding(
                    "fix",
                    f"rate limit nearly used up: {limit.remaining} of {limit.limit} requests left "
                    f"(resets in {limit.reset:.0f} s)",
                    "Another program is using most of this key's rate limit: calls will wait; give "
                    "close-mcp its own key or run fewer programs on it",
                )
            )
        else:
            found.append(
                Finding(
                    "ok",
                    f"rate limit: {limit.remaining} of {limit.limit} requests left in this window "
                    f"(resets in {limit.reset:.0f} s)",
                )
            )


def check_tools(settings: Settings, found: list[Finding]) -> None:
    try:
        specs = load_specs(settings)
        policy = build_policy(settings, specs)
    except (SettingsError, ManifestError) as exc:
        found.append(Finding("fix", f"the tool configuration does not load: {exc}"))
        return
    shown = [s for s in specs if policy.visible_to(s, "local")]
    reachable = [s for s in specs if policy.exposes(s)]
    toolsets = ",".join(settings.toolsets)
    more = len(reachable) - len(shown)
    extra = f", {more} more reachable through find_tools" if more else ""
    found.append(
        Finding(
            "ok",
            f"scope {policy.scope}, toolsets {toolsets}: {len(shown)} of {len(specs)} tools listed{extra}",
        )
    )
    if settings.policy:
        found.append(Finding("info", f"per-agent grants from {settings.policy} (remote server)"))


def _entries(doc: Any, host: Host) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every server entry of a host configuration (Claude Code also keeps them per project)."""
    if not isinstance(doc, dict):
        return
    tables = [doc.get(host.servers_key)]
    projects = doc.get("projects")
    if isinstance(projects, dict):
        tables += [p.get(host.servers_key) for p in projects.values() if isinstance(p, dict)]
    for table in tables:
        if isinstance(table, dict):
            yield from ((k, v) for k, v in table.items() if isinstance(v, dict))


def _is_close_mcp(name: str, entry: dict[str, Any]) -> bool:
    words = [str(entry.get("command", ""))] + [str(a) for a in entry.get("args") or []]
    return name == "close" or any("close-mcp" in w or "close_mcp" in w for w in words)


def _command_exists(command: str) -> bool:
    return Path(command).exists() if os.path.isabs(command) else shutil.which(command) is not None


def check_entry(label: str, path: Path, name: str, entry: dict[str, Any]) -> Finding:
    where = f"{label}: {path} has {name!r}"
    if "url" in entry and "command" not in entry:
        return Finding("info", f"{where} → remote server {entry['url']}")
    command = str(entry.get("command", ""))
    if not command or not _command_exists(command):
        return Finding(
            "fix",
            f"{where} → {command or '(no command)'}, which does not exist",
            f"{label} cannot start close-mcp: in {path}, set {name!r} to the output of "
            f"`close-mcp config` for this host (the command is now {' '.join(installed_command())})",
        )
    raw_env = entry.get("env")
    env: dict[str, Any] = raw_env if isinstance(raw_env, dict) else {}
    args = [str(a) for a in entry.get("args") or []]
    key = env.get("CLOSE_API_KEY") or env.get("CLOSE_ACCESS_TOKEN")
    if "--sandbox" in args or env.get("CLOSE_MCP_SANDBOX") in ("1", "true"):
        how = "sandbox"
    elif key == KEY_PLACEHOLDER:
        return Finding(
            "fix",
            f"{where} → {command}, key still the placeholder",
            f"Replace {KEY_PLACEHOLDER} in {path} with your Close API key",
        )
    elif isinstance(key, str) and key.startswith("${"):
        how = f"key from {key}"
    elif key:
        how = "key set"
    else:
        how = "no key in its env (taken from the host's environment, if any)"
    return Finding("ok", f"{where} → {command} ({how})")


def check_hosts(found: list[Finding], home: Path, platform: str, cwd: Path) -> None:
    for host in HOSTS.values():
        seen = False
        for path in host.config_paths(home, platform, cwd):
            if not path.is_file():
                continue
            seen = True
            try:
                doc = json.loads(path.read_text(encoding="utf-8") or "{}")
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                line = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
                found.append(
                    Finding(
                        "fix",
                        f"{host.label}: {path} is not valid JSON{line}",
                        f"Fix {path}{line}: {host.label} ignores a configuration it cannot parse",
                    )
                )
                continue
            ours = [(n, e) for n, e in _entries(doc, host) if _is_close_mcp(n, e)]
            if not ours:
                found.append(Finding("info", f"{host.label}: {path} has no close-mcp entry"))
            found += [check_entry(host.label, path, n, e) for n, e in ours]
        if not seen:
            key = next(k for k, h in HOSTS.items() if h is host)
            found.append(
                Finding("info", f"{host.label}: no configuration found (`close-mcp config {key}` prints one)")
            )


async def run_doctor(
    settings: Settings,
    *,
    stdout: TextIO | None = None,
    home: Path | None = None,
    platform: str | None = None,
    cwd: Path | None = None,
) -> int:
    stdout = stdout or sys.stdout
    report = Report()
    command = " ".join(installed_command())
    version = sys.version.split()[0]
    report.section(f"close-mcp {__version__} ({command}, Python {version})")
    await check_close(settings, report.section("Close API"))
    check_tools(settings, report.section("Tools"))
    check_hosts(report.section("MCP hosts"), home or Path.home(), platform or sys.platform, cwd or Path.cwd())
    print(report.render(), file=stdout)
    return 1 if report.fixes else 0
