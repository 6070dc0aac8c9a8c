"""``StrictModel``: the base of every configuration model (faults, network, load)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown fields are errors and a validated configuration never changes.

    Validators are built on first use (``defer_build``), not at import: every proxy and demo
    server process imports these modules, most validate two or three of the models, and
    building all of them cost about 0.1 s of each process's start-up (docs/testing.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
