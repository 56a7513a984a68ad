"""Sign in with Close: close-mcp as the OAuth authorization server of MCP clients (MCP authorization
spec: RFC 9728 resource metadata, RFC 8414 server metadata, RFC 7591 registration, code + PKCE S256).

The MCP client registers, sends its user to ``/authorize``; close-mcp shows what the asked scopes
allow (:mod:`.pages`), sends the user on to Close's own authorize page, exchanges Close's code
server-side (:mod:`.close_app`), keeps Close's tokens encrypted (:mod:`.records`) and gives the MCP
client a token of its own, bound to them (:mod:`.provider`). Calls run with the grant's Close token,
refreshed once per grant however many calls race (:mod:`.close_tokens`, :mod:`.clients`); the
granted scope limits the tools (:mod:`.scopes`). :mod:`.server` wires it for :mod:`close_mcp.app`.
"""
