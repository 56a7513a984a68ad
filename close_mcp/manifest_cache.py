"""The compiled tool manifests, kept on disk keyed by exactly what they were compiled from.

Validating ~30 manifest files against the versioned schema and compiling 300 tools takes ~70 ms
(plus ~30 ms to import jsonschema); unpickling the result takes ~4 ms. The key is a SHA-256 over
every manifest file's name and bytes (shipped and ``--extra-manifests`` alike, in load order), the
meta-schema and shared definitions, close-mcp's version, the Python version and the source of the
modules that compile a manifest. Any change to any of them is another key, so a manifest that
changed is validated again before it is served; a cache is never trusted for other content.

The cache is only a shortcut: an unreadable, corrupt or foreign file is ignored (and rewritten),
an unwritable directory (a read-only install, a read-only home) means compiling every start.
Nothing here raises because of the cache.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from close_mcp import __version__

if TYPE_CHECKING:
    from close_mcp.manifest import ToolSpec

log = logging.getLogger("close_mcp.manifest_cache")
FORMAT = b"close-mcp compiled manifests 1"
PREFIX = "manifests-"
SUFFIX = ".pickle"
KEEP = 8  # compiled forms kept (several worktrees, versions or extra-manifest sets side by side)
# The modules whose code decides what a manifest compiles to: a change to them is a change of key.
_COMPILERS = ("manifest.py", "tool_arguments.py", "access.py", "reconcile.py", "manifest_cache.py")


def cache_key(sources: Sequence[tuple[str, bytes]]) -> str | None:
    """The key of the compiled form of ``sources`` (file name, content), in load order; None when the
    compiling code cannot be read (an install without sources): then nothing is cached."""
    digest = hashlib.sha256(FORMAT)
    digest.update(f"\0{__version__}\0{sys.version}\0".encode())
    here = Path(__file__).parent
    try:
        for name in _COMPILERS:
            _add(digest, name, (here / name).read_bytes())
    except OSError:
        return None
    for name, content in sources:
        _add(digest, name, content)
    return digest.hexdigest()


def _add(digest: hashlib._Hash, name: str, content: bytes) -> None:
    # length-prefixed, so no two different lists of files can hash alike
    digest.update(f"{len(name)}:{name}{len(content)}:".encode())
    digest.update(content)


def load_or_compile(
    directory: Path, sources: Sequence[tuple[str, bytes]], compile_all: Callable[[], list[ToolSpec]]
) -> list[ToolSpec]:
    """The specs compiled from ``sources``: from ``directory`` when a cache of exactly them is there,
    else compiled (validated) by ``compile_all`` and stored for the next start."""
    key = cache_key(sources)
    if key is None:
        return compile_all()
    path = directory / f"{PREFIX}{key[:40]}{SUFFIX}"
    cached = _read(path, key)
    if cached is not None:
        return cached
    specs = compile_all()  # raises ManifestError for bad manifests: nothing is stored then
    _write(directory, path, key, specs)
    return specs


def _read(path: Path, key: str) -> list[ToolSpec] | None:
    from close_mcp.manifest import ToolSpec

    try:
        with path.open("rb") as fh:
            if not _trusted(os.fstat(fh.fileno())):
                log.warning("close-mcp: ignoring %s: not owned by this user, or writable by others", path)
                return None
            stored = _unpickle(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a corrupt or truncated file can fail unpickling in many ways
        log.info("close-mcp: manifest cache %s unreadable (%s); compiling", path, type(exc).__name__)
        return None
    if (
        not isinstance(stored, dict)
        or stored.get("key") != key
        or not isinstance(stored.get("specs"), list)
        or not all(isinstance(s, ToolSpec) for s in stored["specs"])
    ):
        log.info("close-mcp: manifest cache %s is not for these manifests; compiling", path)
        return None
    specs: list[ToolSpec] = stored["specs"]
    return specs


def _unpickle(fh: BinaryIO) -> Any:
    """A compiled form is ~60,000 small objects, none cyclic garbage: the collector is paused while
    they are made (~1 ms of a 4.5 ms load), and resumed as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.load(fh)
    finally:
        if was_enabled:
            gc.enable()


def _trusted(stat: os.stat_result) -> bool:
    """Only a file this user wrote, that nobody else may change, is unpickled."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: the per-user cache folder is the protection
        return True
    return stat.st_uid == getuid() and not stat.st_mode & 0o022


def _write(directory: Path, path: Path, key: str, specs: list[ToolSpec]) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{PREFIX}", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump({"key": key, "specs": specs}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)  # atomic: a concurrent start reads the old file or the new
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _prune(directory, keep=path)
    except (OSError, pickle.PicklingError) as exc:
        log.debug("close-mcp: manifest cache not written to %s: %s", directory, exc)


def _prune(directory: Path, keep: Path) -> None:
    """Only the :data:`KEEP` most recently written compiled forms stay."""
    found = sorted(
        (p for p in directory.glob(f"{PREFIX}*{SUFFIX}") if p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in found[KEEP - 1 :]:
        old.unlink(missing_ok=True)
