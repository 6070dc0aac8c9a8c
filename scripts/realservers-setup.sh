#!/usr/bin/env bash
# Install the third-party MCP servers tests/realservers runs the harness against, under .tools/
# (gitignored): npm @modelcontextprotocol/server-everything, pinned by
# tests/realservers/npm/package-lock.json (npm ci, run by the Node.js 22 conformance-setup.sh
# installs), and PyPI mcp-server-time, pinned by tests/realservers/time-requirements.txt, in a
# venv of its own (.tools/venv-time): it needs mcp<2, .venv has mcp 2.
# Idempotent: a no-op (milliseconds) when the stamp matches. Needs what conformance-setup.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/conformance-setup.sh  # Node.js 22 (and npm) under .tools/node22
node_bin_dir="$PWD/$(dirname "$(ls .tools/node22/node_modules/node-linux-*/bin/node | head -1)")"
everything_dir=.tools/server-everything
time_venv=.tools/venv-time
stamp=.tools/.realservers-installed
want="$(cat tests/realservers/npm/package-lock.json tests/realservers/time-requirements.txt | sha256sum | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && [ -f "$everything_dir/node_modules/@modelcontextprotocol/server-everything/dist/index.js" ] \
    && [ -x "$time_venv/bin/mcp-server-time" ]; then
    exit 0
fi

echo "realservers-setup: installing server-everything and mcp-server-time into .tools/" >&2
rm -f "$stamp"
mkdir -p "$everything_dir"
cp tests/realservers/npm/package.json tests/realservers/npm/package-lock.json "$everything_dir/"
(cd "$everything_dir" && PATH="$node_bin_dir:$PATH" npm ci --no-audit --no-fund --loglevel=error >&2)

PYTHON="${PYTHON:-python3}"
if [ ! -x "$time_venv/bin/python" ]; then
    rm -rf "$time_venv"
    "$PYTHON" -m venv "$time_venv"
fi
"$time_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/realservers/time-requirements.txt
"$time_venv/bin/mcp-server-time" --help >/dev/null
echo "$want" > "$stamp"
