"""Least privilege: scopes, toolsets and per-agent grants decide which tools exist for whom.

Order (once per listing or call): toolsets → scope (read-only wins over anything asked by
name) → the calling agent's grants. Scopes match Close's hosted server: ``read``,
``write_safe`` (reads and non-destructive writes), ``write_destructive`` (everything).
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from close_mcp.access import ACCESS_LEVEL, LEVELS, SCOPE_FOR_ACCESS, scope_allows
from close_mcp.manifest import ToolSpec
from close_mcp.settings_error import SettingsError

log = logging.getLogger("close_mcp.policy")


def check_toolsets(names: list[str], specs: list[ToolSpec]) -> set[str] | None:
    """The selected toolsets, or ``None`` for all; unknown names are a start-up error."""
    if not names or "all" in names:
        return None
    known = {s.toolset for s in specs}
    unknown = sorted(set(names) - known)
    if unknown:
        raise SettingsError(
            f"unknown toolset(s) {', '.join(unknown)}; choose from: all, {', '.join(sorted(known))}"
        )
    return set(names)


@dataclass
class Grants:
    """Per-agent access levels by toolset; ``*`` is the agent's default for unnamed toolsets."""

    agents: dict[str, dict[str, str]] = field(default_factory=dict)

    def level(self, agent: str, toolset: str) -> str:
        grants = self.agents.get(agent, {})
        return grants.get(toolset, grants.get("*", "none"))

    def allows(self, agent: str, spec: ToolSpec) -> bool:
        return LEVELS.index(self.level(agent, spec.toolset)) >= ACCESS_LEVEL[spec.access]


def _line_of(text: str, *needles: str) -> int:
    """The line where the needles appear in order (best effort, for error messages)."""
    lines, start = text.splitlines(), 0
    for needle in needles:
        pattern = re.compile(rf"(^|[\s\[\.\"']){re.escape(needle)}([\s\]\"'=:.]|$)")
        for i in range(start, len(lines)):
            if pattern.search(lines[i]):
                start = i
                break
    return start + 1


def load_grants(path: Path, toolsets: set[str]) -> Grants:
    """Read a TOML or JSON policy: ``[agents.NAME]`` with ``toolset = "none|read|write|destructive"``."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read policy file ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise SettingsError(f"{path}:{match.group(1) if match else '?'}: invalid TOML: {exc}") from None
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, dict) or set(data) - {"agents"}:
        raise SettingsError(f"{path}:1: expected only an 'agents' table of agent name -> grants")
    grants = Grants()
    for agent, table in agents.items():
        if not isinstance(table, dict):
            raise SettingsError(
                f"{path}:{_line_of(text, agent)}: agent {agent!r} must map toolsets to access levels"
            )
        for toolset, level in table.items():
            where = f"{path}:{_line_of(text, agent, toolset)}"
            if toolset != "*" and toolset not in toolsets:
                raise SettingsError(
                    f"{where}: unknown toolset {toolset!r} for agent {agent!r}; "
                    f"choose from {', '.join(sorted(toolsets))} or '*'"
                )
            if level not in LEVELS:
                raise SettingsError(
                    f"{where}: access for {agent}.{toolset} must be one of {', '.join(LEVELS)}, got {level!r}"
                )
        grants.agents[agent] = dict(table)
    return grants


class GrantFile:
    """A policy file that reloads when it changes (checked on use) or on demand (SIGHUP).
    A broken edit keeps the last good grants and is reported, so sessions are never dropped."""

    def __init__(self, path: Path, toolsets: set[str]) -> None:
        self.path, self.toolsets = path, toolsets
        self.grants = load_grants(path, toolsets)
        self._mtime = path.stat().st_mtime_ns

    def current(self) -> Grants:
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return self.grants
        if mtime != self._mtime:
            self.reload()
        return self.grants

    def reload(self) -> None:
        try:
            self._mtime = self.path.stat().st_mtime_ns
            self.grants = load_grants(self.path, self.toolsets)
        except (SettingsError, OSError) as exc:
            log.error("policy reload failed, keeping the previous grants: %s", exc)


@dataclass
class AccessPolicy:
    scope: str = "write_destructive"
    toolsets: set[str] | None = None
    grants: GrantFile | None = None

    def exposes(self, spec: ToolSpec) -> bool:
        """Listed at all: in a selected toolset and within the scope."""
        return (self.toolsets is None or spec.toolset in self.toolsets) and scope_allows(
            self.scope, spec.access
        )

    def refusal(self, spec: ToolSpec, agent: str | None) -> str | None:
        """Why this call may not run, or ``None`` when it may."""
        if self.toolsets is not None and spec.toolset not in self.toolsets:
            return (
                f"{spec.name} is in the {spec.toolset} toolset, which this server does not expose "
                f"(toolsets: {', '.join(sorted(self.toolsets))}). Nothing was sent to Close."
            )
        if not scope_allows(self.scope, spec.access):
            needed = SCOPE_FOR_ACCESS[spec.access]
            return (
                f"{spec.name} is a {spec.access} tool and needs scope {needed}; this server runs with scope "
                f"{self.scope}. The operator can start close-mcp with --scope {needed}. Nothing was sent to Close."
            )
        if self.grants is not None and agent is not None:
            grants = self.grants.current()
            if not grants.allows(agent, spec):
                return (
                    f"Agent {agent!r} is granted {grants.level(agent, spec.toolset)!r} on {spec.toolset}; "
                    f"{spec.name} needs {spec.access!r}. Nothing was sent to Close."
                )
        return None

    def visible_to(self, spec: ToolSpec, agent: str | None) -> bool:
        return self.exposes(spec) and self.refusal(spec, agent) is None
