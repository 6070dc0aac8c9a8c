"""The built-in demo MCP server, built on the official MCP Python SDK."""
