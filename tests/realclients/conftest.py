"""The npm clients' fixture, shared by the tests that run them."""

from __future__ import annotations

import subprocess

import pytest

from tests.realclients import drive


@pytest.fixture(scope="session")
def npm_clients() -> None:
    """The npm clients under .tools/clients (installed now if they are not there yet)."""
    setup = subprocess.run(
        ["bash", str(drive.ROOT / "scripts/clients-setup.sh")], capture_output=True, text=True, timeout=900
    )
    if setup.returncode != 0:
        pytest.skip(f"scripts/clients-setup.sh failed: {setup.stderr.strip()[-500:]}")
    reason = drive.missing_clients()
    if reason is not None:
        pytest.skip(reason)
