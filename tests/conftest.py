from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.http.servers import demo_http_server


@pytest.fixture(scope="session")
def stateful_url() -> Iterator[str]:
    """The demo server over Streamable HTTP (stateful, SSE), shared by the whole run."""
    with demo_http_server() as url:
        yield url
