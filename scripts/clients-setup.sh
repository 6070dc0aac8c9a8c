#!/usr/bin/env bash
# Install the third-party MCP clients tests/realclients runs through the proxy, under
# .tools/clients (gitignored): npm @modelcontextprotocol/sdk (the TypeScript SDK, for
# examples/clients/ts_sdk_client.mjs) and @modelcontextprotocol/inspector (its --cli mode),
# pinned by tests/realclients/npm/package-lock.json (npm ci, run by the Node.js 22
# conformance-setup.sh installs). The Python SDK client needs nothing more than .venv.
# Idempotent: a no-op (milliseconds) when the stamp matches. Needs what conformance-setup.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/conformance-setup.sh  # Node.js 22 (and npm) under .tools/node22
node_bin_dir="$PWD/$(dirname "$(ls .tools/node22/node_modules/node-linux-*/bin/node | head -1)")"
clients_dir=.tools/clients
stamp=.tools/.clients-installed
want="$(sha256sum tests/realclients/npm/package-lock.json | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && [ -f "$clients_dir/node_modules/@modelcontextprotocol/sdk/package.json" ] \
    && [ -f "$clients_dir/node_modules/@modelcontextprotocol/inspector/package.json" ]; then
    exit 0
fi

echo "clients-setup: installing @modelcontextprotocol/sdk and @modelcontextprotocol/inspector into $clients_dir" >&2
rm -f "$stamp"
mkdir -p "$clients_dir"
cp tests/realclients/npm/package.json tests/realclients/npm/package-lock.json "$clients_dir/"
(cd "$clients_dir" && PATH="$node_bin_dir:$PATH" npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$want" > "$stamp"
