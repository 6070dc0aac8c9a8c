"""Locust integration: MCP users and a fault-ramping load shape, for distributed load.

Import this only in a locustfile: Locust imports gevent, which monkey-patches the process it
runs in, so nothing in the proxy or the harness imports this package.
"""

# Locust first: it monkey-patches ssl and sockets, which must happen before anything (requests,
# urllib3) imports them. Under `locust -f` it is imported first anyway.
import locust  # noqa: F401

from mcpchaos.locust.shape import FaultRampShape
from mcpchaos.locust.users import McpCalls, McpRpcError, McpStdioUser, McpTransportError, McpUser

__all__ = ["FaultRampShape", "McpCalls", "McpRpcError", "McpStdioUser", "McpTransportError", "McpUser"]
