"""Transports: I/O only. Each turns a byte stream into frames for the pump and writes the
messages the pump sends back out."""
