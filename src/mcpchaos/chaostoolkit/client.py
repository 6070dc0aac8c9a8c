"""The synchronous HTTP call the actions and probes share."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

Configuration = Mapping[str, Any] | None
Secrets = Mapping[str, Mapping[str, Any]] | None


class ControlCallError(Exception):
    """The control API answered an error or could not be reached (the activity fails)."""


def control_url_of(control_url: str | None, configuration: Configuration) -> str:
    url = (
        control_url or (configuration or {}).get("mcpchaos_control_url") or os.environ.get("MCPCHAOS_CONTROL")
    )
    if not url:
        raise ControlCallError(
            "no control API: give control_url, configuration mcpchaos_control_url or $MCPCHAOS_CONTROL"
        )
    return str(url).rstrip("/")


def token_of(token: str | None, secrets: Secrets) -> str | None:
    if token:
        return token
    secret = (secrets or {}).get("mcpchaos", {}).get("token")
    return str(secret) if secret else os.environ.get("MCPCHAOS_CONTROL_TOKEN") or None


def call(
    method: str,
    path: str,
    body: Any = None,
    control_url: str | None = None,
    token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
    timeout_s: float = 10.0,
) -> Any:
    """One call to the control API; the decoded JSON answer (None when empty)."""
    url = control_url_of(control_url, configuration) + path
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    secret = token_of(token, secrets)
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode(errors="replace")
        raise ControlCallError(f"{method} {path} → HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ControlCallError(f"control API {url} unreachable: {exc}") from exc
    return json.loads(raw) if raw.strip() else None
