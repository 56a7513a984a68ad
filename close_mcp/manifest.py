"""Load, validate and compile the tool manifests into frozen :class:`ToolSpec` objects.

Every file in ``tool_manifests/`` is checked against ``manifest.schema.json`` and then
against the rules a schema cannot express (path placeholders, unique names, reserved
argument names). Every problem is reported at once with its file, tool and field; a bad
manifest stops start-up and nothing is half-registered.

Given a ``cache_dir``, the compiled specs are kept there keyed by the content of every file they
came from (:mod:`close_mcp.manifest_cache`): a start with unchanged manifests unpickles them in a
few milliseconds and never imports jsonschema; any change is validated again.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from close_mcp import manifest_cache
from close_mcp.access import Access, annotations_for
from close_mcp.reconcile import ReconcileSpec
from close_mcp.tool_arguments import STANDARD_ARGUMENTS, advertised, standard_arguments

Location = Literal["path", "query", "body", "body_custom", "search"]
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_SKIP_FILES = {"manifest.schema.json", "definitions.json", "_protocol.json", "_not_tools.json"}
SERVER_TOOL_NAMES = frozenset({"find_tools", "enable_tools", "call_tool"})  # close_mcp.discovery's own tools


class ManifestError(Exception):
    """Raised with every problem found, one per line: ``file: tools[i] (name).field: message``."""


@dataclass(frozen=True)
class Binding:
    location: Location
    wire: str


@dataclass(frozen=True)
class PreviewSpec:
    """What a destructive call reads first to tell the user what it will destroy (``confirm_preview``).

    ``path`` is a GET path (placeholders from the arguments); when it is the tool's own collection
    path, the preview counts what the tool's filters match. ``label`` is a template of the object's
    fields that names it (``"{display_name}"``); ``counts`` the list fields reported as going with it."""

    path: str
    label: str | None = None
    counts: tuple[str, ...] = ()
    second: tuple[str, str | None, str] | None = (
        None  # another object the call touches: (path, label, "into")
    )


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    toolset: str
    description: str
    method: str
    path: str
    access: Access
    pagination: str
    bindings: dict[str, Binding]
    input_schema: dict[str, Any]  # what arguments are validated against: every bound
    annotations: dict[str, Any]
    max_limit: int = 100
    default_fields: tuple[str, ...] = ()
    compact: dict[str, tuple[str, ...]] = field(default_factory=dict)
    require_one_of: tuple[tuple[str, ...], ...] = ()
    lookup_hint: str | None = None
    preview: PreviewSpec | None = None
    custom_fields: str | None = None  # definitions path naming this tool's custom.cf_… keys
    report_changes: bool = False  # an update reads the object first and reports what changed
    report_matches: bool = False  # a bulk change lists what its filters match before it runs
    default: bool = False  # in the default toolset: listed without any flag
    aliases: tuple[str, ...] = ()  # former names that keep working (not listed)
    reconcile: ReconcileSpec | None = None  # how an ambiguous write is found out (close_mcp.reconcile)
    wire_schema: dict[str, Any] = field(default_factory=dict)  # what tools/list advertises
    search: dict[str, Any] | None = None  # Advanced Filtering built from plain arguments (search_query.py)
    names: dict[str, dict[str, Any]] = field(default_factory=dict)  # argument → list naming its IDs
    query_terms: dict[str, dict[str, Any]] = field(default_factory=dict)  # text-query argument → checks
    compose: dict[str, Any] | None = None  # several reads merged into one answer (compose.py)

    @property
    def is_list(self) -> bool:
        return self.pagination != "none"

    @property
    def idempotent(self) -> bool:
        """Safe to repeat: decides whether the client may retry a request whose answer was lost."""
        return bool(self.annotations["idempotentHint"])

    def wire_tool(self) -> dict[str, Any]:
        """The MCP ``Tool`` as sent in ``tools/list`` (camelCase wire form)."""
        tool: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.wire_schema or self.input_schema,
            "annotations": wire_annotations(self.annotations),
        }
        return tool


def wire_annotations(hints: dict[str, Any]) -> dict[str, Any]:
    """The hints as advertised: those the MCP spec gives meaning to, minus its defaults. A read-only
    tool's destructive/idempotent hints are meaningless (spec: "only when readOnlyHint == false") and
    openWorldHint defaults to true; destructiveHint stays explicit either way, as hosts gate on it."""
    if hints["readOnlyHint"]:
        return {"readOnlyHint": True, **({} if hints["openWorldHint"] else {"openWorldHint": False})}
    shown = {k: v for k, v in hints.items() if k != "readOnlyHint" and not (k == "openWorldHint" and v)}
    if not shown.get("idempotentHint"):
        shown.pop("idempotentHint", None)  # false is the spec's default
    return shown


# Keywords only the validator needs: hosts and models gain nothing from them in tools/list, where
# every byte is repeated per tool. Arguments are still checked against them before anything is sent.
_VALIDATION_ONLY = frozenset(
    {"pattern", "maxLength", "minLength", "maxItems", "format", "uniqueItems", "examples"}
)


def wire_schema(node: Any) -> Any:
    """The advertised form of an input schema: validation-only keywords, ``additionalProperties: false``
    (unknown arguments are refused by name when called) and ``minimum: 1`` (obvious for counts) dropped."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _VALIDATION_ONLY or (key == "minimum" and value == 1):
                continue
            if key == "additionalProperties" and value is False:
                continue
            if key in ("properties", "dependentRequired") and isinstance(value, dict):
                out[key] = {k: wire_schema(v) for k, v in value.items()}
            else:
                shown = wire_schema(value)
                if shown != {}:  # e.g. propertyNames left with nothing but a pattern
                    out[key] = shown
        return out
    if isinstance(node, list):
        return [wire_schema(v) for v in node]
    return node


def manifest_dir() -> Path:
    """The manifests shipped with the package (``tool_manifests/`` in the source tree)."""
    return Path(str(resources.files("close_mcp.tool_manifests")))


def _resolve_refs(node: Any, definitions: dict[str, Any], where: str, problems: list[str]) -> Any:
    """Inline ``{"$ref": "#/definitions/x"}`` so clients see plain, self-contained schemas."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = str(node["$ref"]).removeprefix("#/definitions/")
            if name not in definitions:
                problems.append(f"{where}: unknown $ref {node['$ref']!r}")
                return {}
            merged = copy.deepcopy(definitions[name])
            merged.update({k: v for k, v in node.items() if k != "$ref"})
            return _resolve_refs(merged, definitions, where, problems)
        return {k: _resolve_refs(v, definitions, where, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_refs(v, definitions, where, problems) for v in node]
    return node


def _check_tool(entry: dict[str, Any], where: str, problems: list[str]) -> None:
    args = entry["arguments"]
    placeholders = _PLACEHOLDER.findall(entry["path"])
    for name in placeholders:
        arg = args.get(name)
        if arg is None or arg["in"] != "path":
            problems.append(f"{where}.path: placeholder {{{name}}} has no path argument")
        elif not arg.get("required") or "pattern" not in arg["schema"]:
            problems.append(
                f"{where}.arguments.{name}: path arguments must be required and have an ID pattern"
            )
    for name, arg in args.items():
        if name in STANDARD_ARGUMENTS:
            problems.append(f"{where}.arguments.{name}: reserved name (added by close-mcp itself)")
        if arg["in"] == "path" and name not in placeholders:
            problems.append(f"{where}.arguments.{name}: path argument not used in {entry['path']}")
        if arg["in"] in ("body", "body_custom") and entry["method"] in ("GET", "DELETE"):
            problems.append(f"{where}.arguments.{name}: {entry['method']} requests have no body")
    if entry.get("compose") and (entry["method"] != "GET" or entry["pagination"] != "none"):
        problems.append(f"{where}.compose: composite tools are GET tools without pagination")
    if entry["pagination"] != "none" and entry["method"] != "GET":
        problems.append(f"{where}.pagination: only GET tools can be paginated")
    declared = ReconcileSpec.from_manifest(entry.get("reconcile"), entry["method"])
    if declared is not None:
        if entry["method"] == "GET":
            problems.append(f"{where}.reconcile: only writes are reconciled")
        for name in sorted(declared.arguments() - set(args)):
            problems.append(f"{where}.reconcile: unknown argument {name!r}")
    search = entry.get("search")
    for name, term in (search or {}).get("terms", {}).items():
        if name not in args or args[name]["in"] != "search":
            problems.append(f'{where}.search.terms.{name}: needs an argument {name!r} with "in": "search"')
        if term.get("kind") == "custom" and not entry.get("custom_fields"):
            problems.append(f"{where}.search.terms.{name}: a custom term needs the tool's custom_fields")
    for name, arg in args.items():
        if arg["in"] == "search" and name not in (search or {}).get("terms", {}):
            problems.append(f"{where}.arguments.{name}: a search argument needs a term in search.terms")
        if "names" in arg and arg["in"] not in ("query", "body"):
            problems.append(f"{where}.arguments.{name}: names apply to query or body arguments")
    for group in entry.get("require_one_of", []):
        for name in group:
            if name not in args:
                problems.append(f"{where}.require_one_of: unknown argument {name!r}")


def _compile(entry: dict[str, Any], toolset: str) -> ToolSpec:
    args: dict[str, Any] = entry["arguments"]
    properties = {name: arg["schema"] for name, arg in args.items()}
    required = [name for name, arg in args.items() if arg.get("required")]
    properties.update(
        standard_arguments(entry["access"], entry["pagination"], entry.get("max_limit", 100), entry["method"])
    )
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    if entry.get("dependent_required"):
        schema["dependentRequired"] = entry["dependent_required"]
    description = entry["description"]
    if entry["access"] == "destructive":
        description += " Irreversible."
    return ToolSpec(
        name=entry["name"],
        title=entry["title"],
        toolset=toolset,
        description=description,
        method=entry["method"],
        path=entry["path"],
        access=entry["access"],
        pagination=entry["pagination"],
        bindings={n: Binding(a["in"], a.get("wire", n)) for n, a in args.items()},
        input_schema=schema,
        annotations=annotations_for(entry["access"], entry["method"], entry.get("idempotent")),
        max_limit=entry.get("max_limit", 100),
        default_fields=tuple(entry.get("default_fields", ())),
        compact={k: tuple(v) for k, v in entry.get("compact", {}).items()},
        require_one_of=tuple(tuple(g) for g in entry.get("require_one_of", ())),
        lookup_hint=entry.get("lookup_hint"),
        preview=_preview(entry.get("confirm_preview")),
        custom_fields=entry.get("custom_fields"),
        report_changes=bool(entry.get("report_changes", False)),
        report_matches=bool(entry.get("report_matches", False)),
        default=bool(entry.get("default", False)),
        aliases=tuple(entry.get("aliases", ())),
        reconcile=ReconcileSpec.from_manifest(entry.get("reconcile"), entry["method"]),
        wire_schema=_advertised_schema(schema),
        search=entry.get("search"),
        names={n: a["names"] for n, a in args.items() if "names" in a},
        query_terms={n: a["query_terms"] for n, a in args.items() if "query_terms" in a},
        compose=entry.get("compose"),
    )


def _advertised_schema(schema: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = wire_schema(schema)
    shown["properties"] = advertised(shown["properties"])
    return shown


def _preview(declared: dict[str, Any] | None) -> PreviewSpec | None:
    if declared is None:
        return None
    second = declared.get("second")
    return PreviewSpec(
        declared["path"],
        declared.get("label"),
        tuple(declared.get("counts", ())),
        (second["path"], second.get("label"), second.get("as", "and")) if second else None,
    )


def load_manifests(*extra: Path, shipped: bool = True, cache_dir: Path | None = None) -> list[ToolSpec]:
    """Load the shipped manifests and those in ``extra`` folders (an operator's own endpoints);
    raise :class:`ManifestError` listing all problems. With ``cache_dir``, compiled once per content."""
    directories = ([manifest_dir()] if shipped else []) + list(extra)
    files: list[Path] = []
    for directory in directories:
        found = sorted(p for p in directory.glob("*.json") if p.name not in _SKIP_FILES)
        if not found:
            raise ManifestError(f"{directory}: no manifest files found")
        files += found
    sources = [(p.name, p.read_bytes()) for p in files]
    meta = (manifest_dir() / "manifest.schema.json").read_bytes()
    definitions = (manifest_dir() / "definitions.json").read_bytes()

    def compile_all() -> list[ToolSpec]:
        return _compile_all(sources, json.loads(meta), json.loads(definitions))

    if cache_dir is None:
        return compile_all()
    keyed = [("manifest.schema.json", meta), ("definitions.json", definitions), *sources]
    return manifest_cache.load_or_compile(cache_dir, keyed, compile_all)


def _compile_all(
    sources: list[tuple[str, bytes]], meta: dict[str, Any], definitions: dict[str, Any]
) -> list[ToolSpec]:
    """Validate every manifest against the versioned schema and the rules beyond it, then compile."""
    import jsonschema  # only when manifests are compiled, not on a start served from the cache

    validator = jsonschema.Draft202012Validator(meta)
    problems: list[str] = []
    specs: list[ToolSpec] = []
    seen: dict[str, str] = {}
    for file_name, content in sources:
        try:
            data = json.loads(content)
        except ValueError as exc:
            problems.append(f"{file_name}: not valid JSON: {exc}")
            continue
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        for err in errors:
            problems.append(f"{file_name}: {_locate(data, list(err.absolute_path))}: {err.message}")
        if errors:
            continue
        local = data.get("definitions", {})
        for name in sorted(set(local) & set(definitions)):
            problems.append(f"{file_name}: definitions.{name}: already defined in definitions.json")
        data = _resolve_refs(data, {**definitions, **local}, file_name, problems)
        for i, entry in enumerate(data["tools"]):
            where = f"{file_name}: tools[{i}] ({entry['name']})"
            for name in (entry["name"], *entry.get("aliases", ())):
                if name in SERVER_TOOL_NAMES:
                    problems.append(f"{where}.name: {name} is reserved for close-mcp's discovery tools")
                if name in seen:
                    problems.append(f"{where}.name: {name} duplicates a tool or alias in {seen[name]}")
                seen[name] = file_name
            _check_tool(entry, where, problems)
            if not problems:
                specs.append(_compile(entry, data["toolset"]))
    if not problems:
        _check_wire_forms(specs, problems)
    if problems:
        raise ManifestError("invalid tool manifests:\n" + "\n".join(problems))
    return sorted(specs, key=lambda s: (s.toolset, s.name))


def _check_wire_forms(specs: list[ToolSpec], problems: list[str]) -> None:
    """Each tool's ``tools/list`` form is a valid MCP ``Tool`` and already in the form the SDK dumps
    one: listing then sends :meth:`ToolSpec.wire_tool` as is (checked once here, with the compiled
    form cached, instead of a pydantic model per tool built at every start)."""
    import mcp.types as types
    from pydantic import ValidationError

    for spec in specs:
        form = spec.wire_tool()
        try:
            dumped = types.Tool.model_validate(form).model_dump(by_alias=True, mode="json", exclude_none=True)
        except ValidationError as exc:
            problems.append(f"{spec.name}: not a valid MCP tool: {exc.errors()[0]['msg']}")
            continue
        if dumped != form:
            problems.append(f"{spec.name}: its tools/list form changes when read as an MCP tool")


def _locate(data: Any, path: list[Any]) -> str:
    """``tools[3] (get_lead).arguments.lead_id`` from a JSON path."""
    out, node = "", data
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "name" in node:
                out += f" ({node['name']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "<root>"
