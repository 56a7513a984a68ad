"""Least privilege: which tools exist for whom.

Order (once per listing or call): the server's tool selection (toolsets, ``--tools``,
``--exclude-tools``) → scope (read-only wins over anything asked by name) → the calling agent's
grants (levels per toolset, optional tool allow/deny lists). Scopes match Close's hosted server:
``read``, ``write_safe`` (reads and non-destructive writes), ``write_destructive`` (everything).

A tool can be *reachable* (callable; findable through discovery) without being *listed* at the start
of a session: with the default toolset only the daily tools are listed and the rest is discoverable.
Discovery never widens access: every call passes the same checks, whichever way the agent found it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from close_mcp.access import ACCESS_LEVEL, LEVELS, SCOPE_FOR_ACCESS, scope_allows
from close_mcp.manifest import ToolSpec
from close_mcp.settings_error import SettingsError

log = logging.getLogger("close_mcp.policy")


@dataclass(frozen=True)
class ToolSelection:
    """What the operator exposes: ``reachable`` toolsets (``None`` = all), tools ``listed`` at the start
    of a session (``None`` = every reachable tool), tools added or removed by name."""

    toolsets: frozenset[str] | None = None
    listed: frozenset[str] | None = None
    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()


def select_tools(
    names: list[str],
    specs: list[ToolSpec],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> ToolSelection:
    """``all``: everything listed. ``default`` (the default): the tools marked ``default`` in the manifests
    are listed, everything else is reachable through discovery. Toolset names: only those toolsets.
    Unknown toolsets or tools are a start-up error."""
    known = {s.toolset for s in specs}
    tools = {s.name for s in specs} | {a for s in specs for a in s.aliases}
    unknown = sorted(set(names) - known - {"all", "default"})
    if unknown:
        raise SettingsError(
            f"unknown toolset(s) {', '.join(unknown)}; choose from: default, all, {', '.join(sorted(known))}"
        )
    bad = sorted((set(include) | set(exclude)) - tools)
    if bad:
        raise SettingsError(f"unknown tool(s) {', '.join(bad)}; `close-mcp tools --toolsets all` lists them")
    canonical = {a: s.name for s in specs for a in s.aliases}
    inc = frozenset(canonical.get(n, n) for n in include)
    exc = frozenset(canonical.get(n, n) for n in exclude)
    if not names or "all" in names:
        return ToolSelection(include=inc, exclude=exc)
    named = set(names) - {"default"}
    if "default" in names:
        listed = {s.name for s in specs if s.default or s.toolset in named} | inc
        return ToolSelection(listed=frozenset(listed), include=inc, exclude=exc)
    return ToolSelection(toolsets=frozenset(named), include=inc, exclude=exc)


@dataclass
class Grants:
    """Per-agent access levels by toolset (``*`` is the agent's default for unnamed toolsets), and
    optional per-agent tool lists: ``tools`` (only these) and ``exclude_tools`` (never these)."""

    agents: dict[str, dict[str, str]] = field(default_factory=dict)
    only_tools: dict[str, frozenset[str]] = field(default_factory=dict)
    excluded_tools: dict[str, frozenset[str]] = field(default_factory=dict)

    def level(self, agent: str, toolset: str) -> str:
        grants = self.agents.get(agent, {})
        return grants.get(toolset, grants.get("*", "none"))

    def allows(self, agent: str, spec: ToolSpec) -> bool:
        return LEVELS.index(self.level(agent, spec.toolset)) >= ACCESS_LEVEL[spec.access]

    def tool_refusal(self, agent: str, spec: ToolSpec) -> str | None:
        only = self.only_tools.get(agent)
        if only is not None and spec.name not in only:
            return f"Agent {agent!r} may only use the tools its grants list; {spec.name} is not one of them."
        if spec.name in self.excluded_tools.get(agent, frozenset()):
            return f"Agent {agent!r} is not granted {spec.name} (exclude_tools)."
        return None


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


def load_grants(path: Path, toolsets: set[str], tool_names: set[str] | None = None) -> Grants:
    """Read a TOML or JSON policy: ``[agents.NAME]`` with ``toolset = "none|read|write|destructive"``,
    and optionally ``tools = [...]`` / ``exclude_tools = [...]`` (tool names)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read policy file ({exc.strerror})") from None
    import tomllib  # only with a policy file: not on every start

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
        levels = dict(table)
        for key in ("tools", "exclude_tools"):
            if key not in levels:
                continue
            names = levels.pop(key)
            where = f"{path}:{_line_of(text, agent, key)}"
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise SettingsError(f"{where}: {agent}.{key} must be a list of tool names")
            unknown = sorted(set(names) - tool_names) if tool_names is not None else []
            if unknown:
                raise SettingsError(f"{where}: unknown tool(s) {', '.join(unknown)} in {agent}.{key}")
            (grants.only_tools if key == "tools" else grants.excluded_tools)[agent] = frozenset(names)
        for toolset, level in levels.items():
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
        grants.agents[agent] = levels
    return grants


class GrantFile:
    """A policy file that reloads when it changes (checked on use) or on demand (SIGHUP).
    A broken edit keeps the last good grants and is reported, so sessions are never dropped."""

    def __init__(self, path: Path, toolsets: set[str], tool_names: set[str] | None = None) -> None:
        self.path, self.toolsets, self.tool_names = path, toolsets, tool_names
        self.grants = load_grants(path, toolsets, tool_names)
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
            self.grants = load_grants(self.path, self.toolsets, self.tool_names)
        except (SettingsError, OSError) as exc:
            log.error("policy reload failed, keeping the previous grants: %s", exc)


@dataclass
class AccessPolicy:
    scope: str = "write_destructive"
    toolsets: set[str] | frozenset[str] | None = None  # reachable toolsets; None = all
    grants: GrantFile | None = None
    selection: ToolSelection = field(default_factory=ToolSelection)

    def reachable(self, spec: ToolSpec) -> bool:
        """Served by this server at all (callable, and findable through discovery)."""
        sel = self.selection
        if spec.name in sel.exclude:
            return False
        toolsets = sel.toolsets if sel.toolsets is not None else self.toolsets
        return spec.name in sel.include or toolsets is None or spec.toolset in toolsets

    def exposes(self, spec: ToolSpec) -> bool:
        """Reachable and within the scope."""
        return self.reachable(spec) and scope_allows(self.scope, spec.access)

    def listed_at_start(self, spec: ToolSpec) -> bool:
        listed = self.selection.listed
        return self.exposes(spec) and (listed is None or spec.name in listed)

    def refusal(self, spec: ToolSpec, agent: str | None) -> str | None:
        """Why this call may not run, or ``None`` when it may."""
        if not self.reachable(spec):
            shown = self.selection.toolsets or self.toolsets
            where = f" (toolsets: {', '.join(sorted(shown))})" if shown else ""
            return (
                f"{spec.name} ({spec.toolset} toolset) is not served by this server{where}. "
                "Nothing was sent to Close."
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
            refused = grants.tool_refusal(agent, spec)
            if refused:
                return f"{refused} Nothing was sent to Close."
        return None

    def visible_to(self, spec: ToolSpec, agent: str | None, enabled: frozenset[str] = frozenset()) -> bool:
        """Listed for this agent: listed at the start (or enabled in this session) and allowed."""
        shown = self.listed_at_start(spec) or (spec.name in enabled and self.exposes(spec))
        return shown and self.refusal(spec, agent) is None

    def has_discoverable(self, specs: list[ToolSpec]) -> bool:
        """Whether some reachable tools are not listed at the start (then discovery tools are offered)."""
        return any(self.exposes(s) and not self.listed_at_start(s) for s in specs)
