"""MCP enforcement: framing, the tool server's process, the relay, session ids, spotlight, pins, audit, SDK."""
