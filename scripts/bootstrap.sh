#!/usr/bin/env bash
# Create .venv and install mcpchaos with its test extras; a no-op when nothing changed.
# Needs only python3 (>= 3.11) with venv; on a bare Debian it installs python3-venv if root.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "bootstrap: $PYTHON not found; install Python 3.11 or newer (Debian: apt-get install python3)" >&2
    exit 2
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "bootstrap: mcpchaos needs Python >= 3.11, $PYTHON is $("$PYTHON" --version 2>&1)" >&2
    exit 2
fi

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv" >&2
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "bootstrap: python venv missing; installing python3-venv" >&2
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            "$PYTHON" -m venv .venv
        else
            echo "bootstrap: '$PYTHON -m venv' failed; install python3-venv (Debian: sudo apt-get install python3-venv)" >&2
            exit 2
        fi
    fi
fi

stamp=".venv/.mcpchaos-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "bootstrap: installing mcpchaos and its test dependencies into .venv" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
    echo "$want" > "$stamp"
fi

# With --tests (scripts/test): tests/conformance runs the official MCP conformance suite, so
# Node.js 22 and the suite go under .tools/ (a no-op when installed). Not fatal here: those
# tests install it again or fail alone. The main job (scripts/demo) needs none of it.
if [ "${1:-}" = --tests ] && [ "${MCPCHAOS_SKIP_CONFORMANCE_SETUP:-0}" != 1 ] \
    && ! bash scripts/conformance-setup.sh; then
    echo "bootstrap: conformance-setup.sh failed; tests/conformance will try again" >&2
fi

# With --tests: tests/realservers runs the harness against third-party servers (npm
# server-everything, PyPI mcp-server-time in its own venv), installed under .tools/ by
# realservers-setup.sh. Not fatal here either: those tests skip with the reason.
if [ "${1:-}" = --tests ] && [ "${MCPCHAOS_SKIP_REALSERVERS_SETUP:-0}" != 1 ] \
    && ! bash scripts/realservers-setup.sh; then
    echo "bootstrap: realservers-setup.sh failed; tests/realservers will skip" >&2
fi

# With --tests: tests/realclients runs real MCP clients (npm @modelcontextprotocol/sdk and the
# MCP Inspector's CLI) through the proxy, installed under .tools/clients by clients-setup.sh.
# Not fatal here either: those tests skip with the reason.
if [ "${1:-}" = --tests ] && [ "${MCPCHAOS_SKIP_CLIENTS_SETUP:-0}" != 1 ] \
    && ! bash scripts/clients-setup.sh; then
    echo "bootstrap: clients-setup.sh failed; tests/realclients will skip" >&2
fi
