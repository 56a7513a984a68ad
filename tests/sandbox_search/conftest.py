from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from close_mcp.sandbox.search import DictSearchData, run_search

from .search_org import build_org

SECRET = b"test-cursor-secret"


@pytest.fixture
def org() -> DictSearchData:
    return build_org()


@pytest.fixture
def search(org: DictSearchData) -> Callable[..., dict[str, Any]]:
    """POST /data/search/ with ``query`` (and any other body keys) against the test org."""

    def run(query: Any, **body: Any) -> dict[str, Any]:
        return run_search({"query": query, **body}, org, cursor_secret=SECRET)

    return run


@pytest.fixture
def ids(search: Callable[..., dict[str, Any]]) -> Callable[..., list[str]]:
    """The ids a search returns (all of them: ``_limit`` 200), in order."""

    def run(query: Any, **body: Any) -> list[str]:
        return [item["id"] for item in search(query, _limit=200, **body)["data"]]

    return run
