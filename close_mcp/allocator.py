"""The remote server's memory allocator: with ``CLOSE_MCP_SYSTEM_MALLOC=1``, ``close-mcp serve`` runs under
the C library's ``malloc`` instead of CPython's pymalloc.

CPython's small-object allocator (pymalloc) hands a 1 MiB arena back to the OS only once every block
in it is free. A burst of streamable-HTTP sessions spreads over a dozen fresh arenas, and after the
sessions end a few dozen blocks that happened to be (re)allocated there meanwhile (observed: futures,
timer arguments and contexts of the server's periodic loops, free-list entries) keep each arena, with
its emptied pools, resident: ~10 MB after 500 abandoned sessions (``python -m bench.remote_load --abandoned 500``). Under glibc's
``malloc`` the freed pages go back to the OS on ``malloc_trim`` (:mod:`close_mcp.sessions` calls it
once the last session ended) and the same run leaves ~3 MB.

Not the default, measured (bench/remote_load.py, alternated runs): ``malloc`` costs ~17 % more server CPU
per call (median of 4 pairs, 1.13–1.21×), and in steady use its RSS is ~3 MB higher and creeps up
(bench/memory.py: 81.5 MB after 10,000 calls over one HTTP session, growing 1.6 MB, where pymalloc
stays flat at 78.5 MB). pymalloc's ~12 MB after a burst is reused by the next one (no growth).

The allocator is chosen when the interpreter starts (``PYTHONMALLOC``), so the HTTP server re-executes
itself once, before anything else starts, with ``PYTHONMALLOC=malloc`` added to its environment — the
same process ID, arguments and environment otherwise. Skipped when ``PYTHONMALLOC`` is already set
(whatever its value: the user's choice, or the re-executed server itself), for stdio (one client,
no session burst), where ``malloc_trim`` does not exist (it is what returns the memory), on Windows
(no ``exec``), and unless ``CLOSE_MCP_SYSTEM_MALLOC=1``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from collections.abc import Callable, Mapping

log = logging.getLogger("close_mcp.allocator")
ALLOCATOR_VARIABLE = "PYTHONMALLOC"
SYSTEM_MALLOC = "malloc"


def _libc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``: freed memory goes back to the OS instead of staying in the process's
    heap. None where the C library has none (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


malloc_trim = _libc_trim()


def wants_system_malloc(enabled: bool, remote: bool, environ: Mapping[str, str]) -> bool:
    """Whether this process should re-execute itself under ``PYTHONMALLOC=malloc``."""
    return (
        enabled
        and remote
        and ALLOCATOR_VARIABLE not in environ
        and malloc_trim is not None
        and sys.platform != "win32"
    )


def reexec_under_system_malloc(enabled: bool, remote: bool) -> None:
    """Replace this process by the same command under ``PYTHONMALLOC=malloc`` when
    :func:`wants_system_malloc` says so; otherwise return. The environment is copied whole (this is
    process mechanics, not a setting: settings are read again, in the same way, by the new process)."""
    environ = os.environ
    if not wants_system_malloc(enabled, remote, environ):
        return
    log.info("re-executing under the C allocator (PYTHONMALLOC=malloc): idle memory goes back to the OS")
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    argv = [sys.executable, *sys.orig_argv[1:]]
    # Replaced before coverage can write what it saw: tests/test_allocator.py checks this from outside.
    os.execve(sys.executable, argv, {**environ, ALLOCATOR_VARIABLE: SYSTEM_MALLOC})  # pragma: no cover
