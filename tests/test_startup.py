"""Start-up that does not grow with the tools: compiled manifests cached by content, heavy imports and
the HTTP client deferred to first use, ``tools/list`` serialized once per visible set."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import payload, settings_for_tests
from mcp import Client
from test_manifests import NOTE_MANIFEST

from bench.remote_load import INIT, INITIALIZED, TOOLS_LIST
from close_mcp.app import Upstream, load_specs, open_local_app
from close_mcp.cli import build_parser, parse_arguments
from close_mcp.client import CloseClient
from close_mcp.credentials import Credential
from close_mcp.manifest import ManifestError, load_manifests
from close_mcp.manifest_cache import PREFIX, SUFFIX

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
NOTE = "Fetch one note activity by ID, with its text, author and lead ({})."
# Loaded in a fresh interpreter: which specs came out, and whether jsonschema had to be imported
# (it is only when the manifests were compiled, i.e. the cache did not hold exactly them).
LOAD = (
    "import json, sys; from pathlib import Path; from close_mcp.manifest import load_manifests; "
    "specs = load_manifests(*map(Path, sys.argv[2:]), cache_dir=Path(sys.argv[1])); "
    "print(json.dumps({'compiled': 'jsonschema' in sys.modules, "
    "'tools': {s.name: s.description for s in specs}}))"
)
# Modules a stdio start must not import: they are for calls, other transports or other commands.
DEFERRED = (
    "jsonschema",
    "referencing",
    "httpcore2",  # the HTTP client's transport: built by the first request to Close
    "tomllib",  # grants files only
    "redis",
    "close_mcp.sandbox",
    "close_mcp.http_app",
    "close_mcp.sessions",
    "close_mcp.oauth",
    "close_mcp.client_pool",
    "close_mcp.events.service",
    "close_mcp.commands.call",
)


def _load_in_child(cache: Path, *extra: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", LOAD, str(cache), *map(str, extra)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    answer: dict[str, object] = json.loads(proc.stdout)
    return answer


def _note_folder(tmp_path: Path, description: str) -> Path:
    folder = tmp_path / "extra"
    folder.mkdir(exist_ok=True)
    manifest = json.loads(json.dumps(NOTE_MANIFEST))
    manifest["tools"][0]["description"] = description
    (folder / "notes_extra.json").write_text(json.dumps(manifest))
    return folder


def _cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob(f"{PREFIX}*{SUFFIX}"))


def test_a_warm_cache_serves_the_manifests_without_compiling_them(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _load_in_child(cache)
    second = _load_in_child(cache)
    assert first["compiled"] is True and second["compiled"] is False
    assert second["tools"] == first["tools"] == {s.name: s.description for s in load_manifests()}
    assert len(_cache_files(cache)) == 1


def test_a_changed_extra_manifest_is_validated_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    extra = _note_folder(tmp_path, NOTE.format("first wording"))
    first = _load_in_child(cache, extra)
    assert first["compiled"] is True
    assert first["tools"]["get_note_extra"] == NOTE.format("first wording")  # type: ignore[index]
    assert _load_in_child(cache, extra)["compiled"] is False
    _note_folder(tmp_path, NOTE.format("second wording"))
    changed = _load_in_child(cache, extra)
    assert changed["compiled"] is True
    assert changed["tools"]["get_note_extra"] == NOTE.format("second wording")  # type: ignore[index]
    # without the extra folder it is another set of files, with its own compiled form
    assert "get_note_extra" not in _load_in_child(cache)["tools"]  # type: ignore[operator]


def test_a_manifest_made_invalid_is_refused_although_a_cache_exists(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    extra = _note_folder(tmp_path, NOTE.format("one wording"))
    assert any(s.name == "get_note_extra" for s in load_manifests(extra, cache_dir=cache))
    manifest = json.loads((extra / "notes_extra.json").read_text())
    manifest["tools"][0]["method"] = "FETCH"
    (extra / "notes_extra.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=r"notes_extra.json: tools\[0\] \(get_note_extra\).method"):
        load_manifests(extra, cache_dir=cache)
    assert len(_cache_files(cache)) == 1  # nothing stored for the invalid content


def test_a_corrupt_cache_file_is_ignored_and_rewritten(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expected = {s.name: s.description for s in load_manifests(cache_dir=cache)}
    (stored,) = _cache_files(cache)
    stored.write_bytes(stored.read_bytes()[:1000])  # truncated mid-pickle
    assert {s.name: s.description for s in load_manifests(cache_dir=cache)} == expected
    assert pickle.loads(stored.read_bytes())["key"]  # a whole compiled form again
    stored.write_bytes(pickle.dumps({"key": "another", "specs": []}))  # valid pickle, wrong content
    assert {s.name: s.description for s in load_manifests(cache_dir=cache)} == expected
    assert _load_in_child(cache)["compiled"] is False


def test_a_cache_file_others_may_write_is_not_trusted(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_manifests(cache_dir=cache)
    (stored,) = _cache_files(cache)
    stored.chmod(0o666)
    assert _load_in_child(cache)["compiled"] is True
    assert stored.stat().st_mode & 0o777 == 0o600  # replaced by a private compiled form


def test_a_read_only_cache_folder_is_read(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_manifests(cache_dir=cache)
    cache.chmod(0o555)
    try:
        assert _load_in_child(cache)["compiled"] is False
        extra = _note_folder(tmp_path, NOTE.format("one wording"))
        assert "get_note_extra" in _load_in_child(cache, extra)["tools"]  # type: ignore[operator]
    finally:
        cache.chmod(0o755)


def test_a_cache_folder_that_cannot_exist_means_compiling_every_start(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = blocker / "cache"  # cannot be created, by any user
    assert _load_in_child(cache)["compiled"] is True
    assert _load_in_child(cache)["compiled"] is True
    assert {s.name for s in load_manifests(cache_dir=cache)} == {s.name for s in load_manifests()}


def test_the_cache_folder_is_a_setting() -> None:
    assert settings_for_tests().manifest_cache_dir(home=Path("/home/u")) == Path("/home/u/.cache/close-mcp")
    assert settings_for_tests(cache_dir="/srv/c").manifest_cache_dir() == Path("/srv/c")
    assert settings_for_tests(cache_dir="off").manifest_cache_dir() is None


def test_load_specs_uses_the_configured_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    specs = load_specs(settings_for_tests(cache_dir=str(cache)))
    assert len(_cache_files(cache)) == 1
    assert [s.name for s in load_specs(settings_for_tests(cache_dir=str(cache)))] == [s.name for s in specs]


def _stdio_start(tmp_path: Path, *flags: str) -> tuple[list[str], list[str]]:
    """A real stdio server (``close_mcp.cli.main``) answering initialize and tools/list, pointed at a
    port where nothing listens: whatever it imported by the end, and the names it listed."""
    modules = tmp_path / "modules.json"
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(modules)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        "from close_mcp.cli import main\n"
        f"main({list(flags)!r})\n"
    )
    lines = [INIT, INITIALIZED, TOOLS_LIST]
    # Not measured for coverage: coverage's own start-up in the child (patch = subprocess) imports
    # modules of its own (tomllib, for its configuration), which is not what a host's spawn imports.
    unmeasured = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}
    env = {
        **unmeasured,
        "CLOSE_API_KEY": "api_startup_probe",
        "CLOSE_API_BASE_URL": "http://127.0.0.1:9",  # discard port: a request sent at start would fail
        "CLOSE_MCP_CACHE_DIR": str(tmp_path / "cache"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in lines))
    proc.stdin.flush()
    answers: dict[int, dict[str, Any]] = {}
    while 2 not in answers:  # the server answers, then is told to stop by the end of its input
        line = proc.stdout.readline()
        assert line, "the server exited before answering tools/list"
        answer = json.loads(line)
        answers[answer["id"]] = answer
    proc.stdin.close()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert proc.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr, stderr
    proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    return json.loads(modules.read_text()), [t["name"] for t in answers[2]["result"]["tools"]]


def test_a_stdio_start_imports_only_what_listing_needs(tmp_path: Path) -> None:
    cold, listed = _stdio_start(tmp_path, "--toolsets", "all")
    assert "jsonschema" in cold  # the first start compiled (validated) the manifests
    warm, listed_again = _stdio_start(tmp_path, "--toolsets", "all")
    assert listed_again == listed and "list_leads" in listed and len(listed) > 150
    assert {"close_mcp.app", "close_mcp.manifest", "close_mcp.tool_handlers"} <= set(warm)
    imported = [m for m in warm if any(m == d or m.startswith(d + ".") for d in DEFERRED)]
    assert imported == []


async def test_the_http_client_is_built_by_the_first_request(shared_sandbox) -> None:
    client = CloseClient(Credential(shared_sandbox.api_key), shared_sandbox.base_url)
    assert not client.connected
    answer = await client.request("GET", "/me/")
    assert answer.status == 200 and client.connected
    await client.aclose()
    assert not client.connected
    with pytest.raises(RuntimeError, match="after aclose"):
        await client.request("GET", "/me/")
    unused = CloseClient(Credential(shared_sandbox.api_key), shared_sandbox.base_url)
    await unused.aclose()  # closing a client that never sent anything builds nothing
    assert not unused.connected


async def test_tools_list_is_serialized_once_per_visible_set(shared_sandbox) -> None:
    settings = settings_for_tests(sandbox=True, toolsets=["default"])
    upstream = Upstream(shared_sandbox.base_url, Credential(shared_sandbox.api_key))
    async with open_local_app(settings, upstream) as app:
        lister = app.list_tools
        assert lister is not None
        async with Client(app.server, mode="legacy") as first:
            listed = [t.name for t in (await first.list_tools()).tools]
            again = [t.name for t in (await first.list_tools()).tools]
            assert again == listed and "find_tools" in listed and "get_webhook" not in listed
            assert lister.sets_kept == 1
            close_tools = [n for n in listed if n not in ("find_tools", "enable_tools", "call_tool")]
            assert lister.catalog.wire_forms_built == len(close_tools) < len(app.specs)
            enabled = await first.call_tool("enable_tools", {"names": ["get_webhook"]})
            assert payload(enabled)["enabled"] == ["get_webhook"]
            widened = [t.name for t in (await first.list_tools()).tools]
            assert set(widened) == {*listed, "get_webhook"} and lister.sets_kept == 2
        async with Client(app.server, mode="legacy") as second:  # another session: the first set
            assert [t.name for t in (await second.list_tools()).tools] == listed
            assert lister.sets_kept == 2
            tool = next(t for t in (await second.list_tools()).tools if t.name == "list_leads")
            spec = next(s for s in app.specs if s.name == "list_leads")
            assert tool.input_schema == spec.wire_schema and tool.annotations is not None


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--toolsets", "all"],
        ["--sandbox", "--scope", "read", "--extra-manifests", "/srv/a,/srv/b"],
        ["--sandb"],  # an abbreviation, as the full parser allows
        ["--events", "follow", "--audit-log", "off"],
        ["call", "get_lead", "lead_id=lead_1", "--output", "json"],  # not --output-budget
        ["--scope", "read", "serve", "--port", "9"],
        ["tools", "--markdown"],
    ],
)
def test_the_server_start_is_parsed_as_the_full_parser_would(argv: list[str]) -> None:
    assert vars(parse_arguments(argv)) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [["--scope", "bogus"], ["--output-budget", "x"], ["--nope"], ["-h"]])
def test_refused_flags_get_the_full_parsers_answer(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        parse_arguments(argv)
    answer = capsys.readouterr()
    with pytest.raises(SystemExit) as expected:
        build_parser().parse_args(argv)
    assert refused.value.code == expected.value.code and answer == capsys.readouterr()
