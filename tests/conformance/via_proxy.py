"""Put an mcpchaos HTTP proxy between a conformance client and the suite's test server.

``conformance client --command "python tests/conformance/via_proxy.py CLIENT..."`` runs this
with the test server's URL appended; it starts ``python -m mcpchaos proxy --listen
127.0.0.1:PORT --upstream URL`` on a free port, runs ``CLIENT... PROXY_URL`` (the same path
on the proxy) with the environment it was given (``MCP_CONFORMANCE_*``), and exits with the
client's status. The proxy is stopped on the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

# Within the suite's own bound per scenario (suite.CLIENT_SCENARIO_MS, 90 s).
START_WITHIN_S = 30.0
CLIENT_WITHIN_S = 55.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_WITHIN_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the proxy exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"the proxy was not listening on {port} after {START_WITHIN_S}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(f"usage: {argv[0]} CLIENT_COMMAND... UPSTREAM_URL", file=sys.stderr)
        return 2
    client, upstream = argv[1:-1], argv[-1]
    path = urlsplit(upstream).path or "/"
    port = free_port()
    proxy = subprocess.Popen(
        [sys.executable, "-m", "mcpchaos", "proxy", "--listen", f"127.0.0.1:{port}", "--upstream", upstream],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for_port(port, proxy)
        return subprocess.run([*client, f"http://127.0.0.1:{port}{path}"], timeout=CLIENT_WITHIN_S).returncode
    except subprocess.TimeoutExpired:
        print(f"the client did not finish within {CLIENT_WITHIN_S}s", file=sys.stderr)
        return 124
    finally:
        stop(proxy)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
