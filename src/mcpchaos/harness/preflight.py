"""Before a chaos run: is the target an MCP server at all?

``mcpchaos run`` starts the user's stdio server once (or reaches their URL) with the client
the load drivers use, does the era's handshake and one request (``tools/list``, or
``server/discover`` on 2026-07-28), and stops it. A target that cannot start, exits, never
answers or is not there fails here in seconds, as a :class:`~mcpchaos.errors.ConfigError`
(exit 2) carrying the server's own stderr, instead of after every scenario has run.

An answer that is a JSON-RPC error still passes (the server is alive: judging it is the
scenarios' job), except a refused handshake, which would fail every request of the run.
"""

from __future__ import annotations

import shlex
import tempfile
from dataclasses import dataclass
from typing import IO

import aiohttp

from mcpchaos.errors import ConfigError
from mcpchaos.harness.load.fast_http import (
    FastHttpClient,
    HandshakeRejectedError,
    RequestFailedError,
    transport_kind,
)
from mcpchaos.harness.load.fast_stdio import StdioClient
from mcpchaos.harness.load.recorder import Recorder
from mcpchaos.harness.load.settings import Operation
from mcpchaos.harness.load.wire import prepare
from mcpchaos.harness.stack import TargetSpec, last_lines
from mcpchaos.protocol.client_wire import SESSIONLESS_ERA

STARTUP_S = 30.0
"""How long a target gets to answer the handshake and the request: generous, since an
``npx``/``uvx`` server may fetch its package first."""


class TargetCheckError(ConfigError):
    """The target is not an MCP server the run can use; the message says what happened."""


@dataclass(frozen=True)
class _Failure:
    step: str
    """``initialize`` or the request's method."""
    kind: str
    """``deadline``, ``rejected`` (a JSON-RPC error to initialize), or the load clients'
    transport kind: ``process_exited``, ``refused``, ``http_404``, ``invalid_json``…"""
    detail: str = ""


async def check_target(target: TargetSpec, protocol: str, within_s: float = STARTUP_S) -> None:
    """Raise :class:`TargetCheckError` unless the target answers; demo and attach targets
    are not checked (the demo is ours; an attached proxy's control API is checked on start)."""
    if target.kind == "command":
        await _check_command(list(target.command), protocol, within_s)
    elif target.kind == "url":
        await _check_url(target.url, protocol, within_s)


async def _check_command(command: list[str], protocol: str, within_s: float) -> None:
    shown = shlex.join(command)
    with tempfile.TemporaryFile() as stderr:
        recorder = Recorder()
        client = StdioClient(
            command,
            None,
            protocol,
            False,
            within_s,
            recorder,
            lambda: None,
            stderr=stderr,
            startup_s=within_s,
        )
        try:
            failure = await _exchange(client, recorder, protocol)
        except OSError as exc:  # it could not be started
            reason = _spawn_reason(exc)
            raise TargetCheckError(f"--target {shown}: cannot start {command[0]}: {reason}") from None
        finally:
            await client.close()
        if failure is not None:
            raise TargetCheckError(f"--target {shown}: {_reason(failure, within_s)}{_said(stderr)}")


async def _check_url(url: str, protocol: str, within_s: float) -> None:
    recorder = Recorder()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=within_s)) as http:
        client = FastHttpClient(
            http, url, {}, protocol, False, within_s, recorder, lambda: None, startup_s=within_s
        )
        failure = await _exchange(client, recorder, protocol)
    if failure is not None:
        raise TargetCheckError(f"--target {url}: {_reason(failure, within_s)}")


async def _exchange(
    client: StdioClient | FastHttpClient, recorder: Recorder, protocol: str
) -> _Failure | None:
    """The era's handshake and one request; None when both were answered."""
    try:
        await client.open()
    except TimeoutError:
        return _Failure("initialize", "deadline")
    except RequestFailedError as failed:
        return _Failure("initialize", failed.kind)
    except HandshakeRejectedError as refused:
        return _Failure("initialize", "rejected", str(refused))
    except aiohttp.ClientError as error:
        detail = (
            str(error.os_error.strerror or error.os_error)
            if isinstance(error, aiohttp.ClientConnectorError)
            else ""
        )
        return _Failure("initialize", transport_kind(error), detail)
    method = "server/discover" if protocol == SESSIONLESS_ERA else "tools/list"
    ticket = recorder.begin()
    await client.call(prepare(Operation(name=method, method=method), protocol), ticket)
    if ticket.outcome in ("ok", "error"):
        return None
    kinds = recorder.totals()[0].transport_kinds
    return _Failure(method, next(iter(kinds), ticket.outcome))


def _spawn_reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "command not found (check the spelling, or give its full path)"
    if isinstance(error, PermissionError):
        return "permission denied (is it executable?)"
    return error.strerror or str(error)


def _reason(failure: _Failure, within_s: float) -> str:
    step, kind = failure.step, failure.kind
    if kind == "rejected":
        return f"the server refused {step}: {failure.detail}"
    if kind == "deadline":
        return f"no answer to {step} within {within_s:g} s (is it an MCP server on this transport?)"
    if kind in ("process_exited", "session_lost"):
        return f"the server exited before answering {step}"
    if kind == "refused":
        return "nothing is listening there (connection refused); start the server, or check the host and port"
    if kind == "connect_error":
        return f"cannot connect ({failure.detail or kind}); check the host and port"
    if kind == "http_404":
        return f"HTTP 404 to {step}: no MCP endpoint at that path (Streamable HTTP servers often serve /mcp)"
    if kind.startswith("http_"):
        return f"HTTP {kind[5:]} to {step}"
    if kind == "invalid_json":
        return f"the answer to {step} is not JSON-RPC: is it an MCP server?"
    return f"{step} failed ({kind})"


def _said(stderr: IO[bytes]) -> str:
    """The end of the server's own stderr, as the end of a message."""
    stderr.seek(0)
    text = last_lines(stderr.read(), 1500)
    if not text:
        return " (it wrote nothing on stderr)"
    return "; its stderr ends with:\n" + "\n".join(f"  {line}" for line in text.splitlines())
