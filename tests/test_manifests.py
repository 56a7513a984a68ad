"""Invariants over every manifest, the loader's error reporting, the README table and the tool snapshot."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import SPECS, payload

from close_mcp.manifest import ManifestError, load_manifests, manifest_dir
from close_mcp.tool_table import README_BEGIN, README_END, markdown_table

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = Path(__file__).parent / "__toolsnaps__" / "tools.json"
VERB_NOUN = re.compile(
    r"^(list|get|create|update|delete|merge|bulk_update|log|search|render|send|enroll|unenroll|archive"
    r"|unarchive|pause|resume|request|run|export|upload|enrich|add|remove|map|unmap|set|cancel|complete"
    r"|replace|block|unblock|unsubscribe|resubscribe|link|unlink|start)_[a-z_]+$"
)
SEED_METHODS = {  # the 34 methods of the reference table in shared/seeds/
    ("GET", "/lead/"),
    ("POST", "/lead/"),
    ("GET", "/lead/{}/"),
    ("PUT", "/lead/{}/"),
    ("DELETE", "/lead/{}/"),
    ("POST", "/lead/merge/"),
    ("GET", "/contact/"),
    ("POST", "/contact/"),
    ("GET", "/contact/{}/"),
    ("PUT", "/contact/{}/"),
    ("DELETE", "/contact/{}/"),
    ("GET", "/opportunity/"),
    ("POST", "/opportunity/"),
    ("GET", "/opportunity/{}/"),
    ("PUT", "/opportunity/{}/"),
    ("DELETE", "/opportunity/{}/"),
    ("GET", "/activity/"),
    ("POST", "/activity/note/"),
    ("POST", "/activity/call/"),
    ("POST", "/activity/email/"),
    ("GET", "/task/"),
    ("POST", "/task/"),
    ("PUT", "/task/"),
    ("PUT", "/task/{}/"),
    ("DELETE", "/task/{}/"),
    ("GET", "/custom_field/lead/"),
    ("POST", "/custom_field/lead/"),
    ("GET", "/me/"),
    ("GET", "/user/"),
    ("PUT", "/organization/{}/"),
    ("GET", "/webhook/"),
    ("POST", "/webhook/"),
    ("DELETE", "/webhook/{}/"),
    ("GET", "/event/"),
}


def test_all_34_reference_methods_are_tools():
    have = {(s.method, re.sub(r"\{[a-z_]+\}", "{}", s.path)) for s in SPECS}
    assert len(SEED_METHODS) == 34 and have >= SEED_METHODS


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_tool_invariants(spec):
    assert VERB_NOUN.match(spec.name)
    schema = spec.input_schema
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert not {"anyOf", "oneOf", "allOf"} & set(schema)
    for placeholder in re.findall(r"\{([a-z_]+)\}", spec.path):
        prop = schema["properties"][placeholder]
        assert placeholder in schema["required"] and prop["type"] == "string"
        if prop.get("format") != "email":  # an email address in the path (resubscribe) is not an ID
            assert prop["pattern"].startswith("^") and prop["pattern"].endswith("_[A-Za-z0-9]+$")
    hints = spec.annotations
    assert hints["readOnlyHint"] == (spec.access == "read")
    assert hints["destructiveHint"] == (spec.access == "destructive")
    assert hints["openWorldHint"] is True
    if spec.method == "DELETE" or spec.name in ("merge_leads", "bulk_update_tasks"):
        assert spec.access == "destructive"
    if spec.method == "POST":
        assert hints["idempotentHint"] is False
    assert len(spec.description) >= 40  # terse on purpose: tools/list is paid per tool (issue 14)
    assert all("$ref" not in json.dumps(p) for p in schema["properties"].values())


def _copy_manifests(tmp_path: Path) -> Path:
    target = tmp_path / "m"
    shutil.copytree(manifest_dir(), target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _load_errors(directory: Path) -> str:
    """Loading must fail; the text lists every problem found."""
    with pytest.raises(ManifestError) as err:
        load_manifests(directory, shipped=False)
    return str(err.value)


def test_bad_manifest_names_file_tool_and_field(tmp_path):
    target = _copy_manifests(tmp_path)
    data = json.loads((target / "leads.json").read_text())
    del data["tools"][1]["access"]
    data["tools"][2]["path"] = "/lead/{lead}/"
    (target / "leads.json").write_text(json.dumps(data))
    broken = json.loads((target / "tasks.json").read_text())
    broken["tools"][0]["arguments"]["limit"] = {"in": "query", "schema": {"type": "integer"}}
    (target / "tasks.json").write_text(json.dumps(broken))
    text = _load_errors(target)
    assert "leads.json: tools[1] (get_lead): 'access' is a required property" in text
    assert "tasks.json: tools[0] (list_tasks).arguments.limit: reserved name" in text


def test_bad_placeholder_and_duplicate_names(tmp_path):
    target = _copy_manifests(tmp_path)
    data = json.loads((target / "contacts.json").read_text())
    data["tools"][1]["path"] = "/contact/{contact}/"
    data["tools"][2]["name"] = "list_leads"
    (target / "contacts.json").write_text(json.dumps(data))
    text = _load_errors(target)
    assert "contacts.json: tools[1] (get_contact).path: placeholder {contact} has no path argument" in text
    assert (
        "leads.json: tools[0] (list_leads).name: list_leads duplicates a tool or alias in contacts.json"
        in text
    )


def test_readme_tool_table_is_in_sync():
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(README_BEGIN) + len(README_BEGIN), readme.index(README_END)
    assert readme[start:end].strip() == markdown_table(SPECS).strip(), "run: close-mcp tools --markdown"


def test_tools_list_snapshot():
    """Every schema and description change shows up in review. Refresh: UPDATE_TOOLSNAPS=1 pytest."""
    current = json.dumps([s.wire_tool() for s in SPECS], indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_TOOLSNAPS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), "missing snapshot; run UPDATE_TOOLSNAPS=1 pytest tests/test_manifests.py"
    assert SNAPSHOT.read_text() == current, "tools changed; review, then UPDATE_TOOLSNAPS=1 pytest"


NOTE_MANIFEST = {
    "$schema": "./manifest.schema.json",
    "schema_version": 1,
    "toolset": "notes_extra",
    "title": "Notes (an operator's own manifest)",
    "description": "Read one note activity by its ID, declared outside the shipped manifests.",
    "tools": [
        {
            "name": "get_note_extra",
            "title": "Get a note",
            "description": "Fetch one note activity by ID, with its text, author and lead. Use list_activities "
            "to find note IDs.",
            "method": "GET",
            "path": "/activity/note/{note_id}/",
            "access": "read",
            "pagination": "none",
            "arguments": {
                "note_id": {
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^acti_[A-Za-z0-9]+$", "maxLength": 80},
                }
            },
        }
    ],
}


async def test_a_read_endpoint_the_sandbox_serves_needs_only_a_manifest(tmp_path, shared_sandbox):
    """No Python: a manifest in an extra folder becomes a working, validated, policy-checked tool."""
    from conftest import connect, settings_for_tests, text_of

    from close_mcp.app import load_specs

    (tmp_path / "notes_extra.json").write_text(json.dumps(NOTE_MANIFEST))
    specs = load_specs(settings_for_tests(extra_manifests=[tmp_path]))
    assert len(specs) == len(SPECS) + 1
    note = next(a for a in shared_sandbox.sandbox.store().activities.values() if a["_type"] == "Note")
    async with connect(shared_sandbox, specs=specs) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "get_note_extra")
        assert tool.annotations.read_only_hint is True and "fields" in tool.input_schema["properties"]
        got = await client.call_tool("get_note_extra", {"note_id": note["id"]})
        assert not got.is_error and payload(got)["id"] == note["id"]
        assert payload(got)["note"].startswith(note["note"][:50])
        bad = await client.call_tool("get_note_extra", {"note_id": "lead_x"})
        assert bad.is_error and "note_id" in text_of(bad) and "acti_" in text_of(bad)


def test_extra_manifests_flag_adds_tools_to_the_cli(tmp_path):
    import subprocess
    import sys

    (tmp_path / "notes_extra.json").write_text(json.dumps(NOTE_MANIFEST))
    out = subprocess.run(
        [sys.executable, "-m", "close_mcp", "tools", "--extra-manifests", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout
    assert "get_note_extra" in out and "/activity/note/{note_id}/" in out


def test_a_manifest_may_declare_its_own_definitions(tmp_path):
    manifest = json.loads(json.dumps(NOTE_MANIFEST))
    manifest["definitions"] = {
        "note_id": {"type": "string", "pattern": "^acti_[A-Za-z0-9]+$", "maxLength": 80}
    }
    manifest["tools"][0]["arguments"]["note_id"]["schema"] = {"$ref": "#/definitions/note_id"}
    (tmp_path / "notes_extra.json").write_text(json.dumps(manifest))
    spec = next(s for s in load_manifests(tmp_path) if s.name == "get_note_extra")
    assert spec.input_schema["properties"]["note_id"]["pattern"] == "^acti_[A-Za-z0-9]+$"
    manifest["definitions"] = {"lead_id": {"type": "string"}}
    (tmp_path / "notes_extra.json").write_text(json.dumps(manifest))
    assert "definitions.lead_id: already defined in definitions.json" in _load_errors_with_shipped(tmp_path)


def _load_errors_with_shipped(directory: Path) -> str:
    with pytest.raises(ManifestError) as err:
        load_manifests(directory)
    return str(err.value)


OPERATIONS = ROOT.parent / "shared" / "reference" / "close-operations.md"
NOT_TOOLS = manifest_dir() / "_not_tools.json"


def _normal(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_close_operation_is_a_tool_or_deliberately_not_one():
    """close-operations.md is Close's whole API; each operation is a tool or listed, with its reason, in
    _not_tools.json. Listing a tool there fails too, so the file stays the true list of exceptions."""
    if not OPERATIONS.exists():
        pytest.skip(f"{OPERATIONS} not found (../shared is beside the repository in CI)")
    operations = {
        f"{m} {_normal(p)}"
        for m, p in re.findall(r"^(GET|POST|PUT|PATCH|DELETE) (/\S*) \|", OPERATIONS.read_text(), re.M)
    }
    assert len(operations) == 297
    tools = {f"{s.method} {_normal(s.path)}" for s in SPECS}
    declared = json.loads(NOT_TOOLS.read_text())["operations"]
    not_tools = {_normal(op): reason for op, reason in declared.items()}
    assert all(len(reason) > 40 for reason in not_tools.values()), "each entry says why"
    assert not_tools, "the list of deliberate exceptions is read (an empty list proves nothing)"
    assert not (unknown := set(not_tools) - operations), f"not Close operations: {sorted(unknown)}"
    assert not (both := set(not_tools) & tools), f"tools now, remove from _not_tools.json: {sorted(both)}"
    missing = sorted(operations - tools - set(not_tools))
    assert not missing, "neither a tool nor in _not_tools.json:\n" + "\n".join(missing)
    assert not (extra := tools - operations), f"tools for no Close operation: {sorted(extra)}"


async def test_tools_list_costs_at_most_500_characters_per_tool_with_every_toolset(shared_sandbox):
    """Issue 14's budget, measured on the wire as a host reads it (bench/ prints the same figure)."""
    from conftest import connect, settings_for_tests

    async with connect(shared_sandbox, settings=settings_for_tests(scope="write_destructive")) as client:
        listed = (await client.list_tools()).tools
    text = json.dumps([t.model_dump(by_alias=True, exclude_none=True) for t in listed], separators=(",", ":"))
    assert len(listed) == len(SPECS) and len(text) / len(listed) <= 500, len(text) / len(listed)
