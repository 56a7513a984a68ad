"""The command-line tools beside the server: ``call``, ``tools --search``, ``doctor``, ``config``.

Each module has one job; :mod:`close_mcp.cli` parses the flags and calls them.
"""
