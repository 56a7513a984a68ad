"""Release artifacts generated from the package itself: the ``.mcpb`` bundle (:mod:`.bundle`) and the
MCP registry's ``server.json`` (:mod:`.registry`), both named and versioned by :mod:`.identity`."""
