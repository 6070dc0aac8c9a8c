"""The built-in demo MCP server, built on the official MCP Python SDK."""

FRAGILE_MODES: dict[str, str] = {
    "leak-fds": "a file descriptor leaked per echo call (no_leaks)",
    "era-fallback": "refuses the initialize handshake: only 2026-07-28 (era_fallback)",
    "accept-tampered-state": "takes any requestState back, tampered or not (mrtr_under_faults)",
    "per-process-state": "seals requestState with a key of its own, whatever --request-state-key "
    "says: no other process can finish a round it began (mrtr_under_faults)",
    "sticky-subscription": "no resource update after a re-listen (subscription_resilience)",
    "stuck-tasks": "tasks never finish and tasks/cancel is ignored (task_resilience)",
}
"""Every ``demo-server --fragile`` choice, with what it breaks (and the verdict that catches it).
Kept here, free of the SDK's imports, so the CLI can list them without loading the server."""
