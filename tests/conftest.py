from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.http.servers import demo_http_server

# Hypothesis's per-example deadline (200 ms) times the machine, not the code: on a loaded
# 2-core runner a trivial example took 353 ms. Correctness is what the properties check; speed
# targets live in bench/.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


@pytest.fixture(scope="session")
def stateful_url() -> Iterator[str]:
    """The demo server over Streamable HTTP (stateful, SSE), shared by the whole run."""
    with demo_http_server() as url:
        yield url
