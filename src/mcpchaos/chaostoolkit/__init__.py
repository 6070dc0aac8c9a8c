"""Chaos Toolkit extension: actions and probes against a running mcpchaos control API.

Chaos Toolkit calls plain functions; these use the standard library's HTTP client (no
aiohttp, no event loop), so the extension needs nothing the ``chaos`` command does not have.
Every function takes ``control_url`` (else ``configuration["mcpchaos_control_url"]``, else
``$MCPCHAOS_CONTROL``) and ``token`` (else ``secrets["mcpchaos"]["token"]``, else
``$MCPCHAOS_CONTROL_TOKEN``), plus the ``configuration`` and ``secrets`` Chaos Toolkit passes.

    {"type": "action", "name": "flaky-tools",
     "provider": {"type": "python", "module": "mcpchaos.chaostoolkit.actions", "func": "set_faults",
                  "arguments": {"control_url": "http://127.0.0.1:9900",
                                "faults": {"fault_probability": 0.3, "enabled_faults": {"error": true}}}}}

Actions (:mod:`.actions`): ``set_faults``, ``patch_faults``, ``reset_faults``, ``set_network``,
``patch_network``, ``reset_network``, ``partition``, ``heal``. Probes (:mod:`.probes`):
``health``, ``is_healthy``, ``metrics``, ``faults_injected``, ``error_count``,
``success_rate``, ``mcp_answers`` (the MCP server answers through the proxy).
"""

from mcpchaos.chaostoolkit.client import ControlCallError, call

__all__ = ["ControlCallError", "call"]
