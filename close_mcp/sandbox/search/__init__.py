"""Pure search for the Close sandbox: Advanced Filtering and the text search syntax.

Nothing here knows the sandbox's routes or store: the evaluators read plain Close-shaped
dicts through :class:`SearchData` (see ``adapter.py``) and raise :class:`SearchError` with
Close's 400 bodies.

- :func:`run_search`: ``POST /data/search/`` (query tree, paging, sort, counts).
- :func:`search_leads`: ``GET /lead/?query=``; :func:`search_opportunities`:
  ``GET /opportunity/?query=``.
"""

from close_mcp.sandbox.search.adapter import CustomField, DictSearchData, Obj, SearchData
from close_mcp.sandbox.search.advanced import run_search
from close_mcp.sandbox.search.errors import SearchError
from close_mcp.sandbox.search.lead_query import search_leads, search_opportunities

__all__ = [
    "CustomField",
    "DictSearchData",
    "Obj",
    "SearchData",
    "SearchError",
    "run_search",
    "search_leads",
    "search_opportunities",
]
