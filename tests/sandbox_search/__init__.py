"""Tests for close_mcp.sandbox.search (pure search over DictSearchData)."""
