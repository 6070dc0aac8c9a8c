"""mcpchaos: a fault-injecting proxy and chaos-testing harness for MCP."""

__version__ = "0.1.0"
