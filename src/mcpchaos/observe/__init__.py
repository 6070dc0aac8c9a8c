"""Observation: tracing, metrics, the fault log and the control API."""
