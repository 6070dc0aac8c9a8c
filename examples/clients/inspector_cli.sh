#!/usr/bin/env bash
# The MCP Inspector's CLI mode (npm @modelcontextprotocol/inspector 2.12.0, `--cli`) doing the
# same fixed job as python_sdk_client.py: list the tools, call echo, call slow. The Inspector
# CLI makes one connection per invocation, so this is three sessions, each:
#
#   mcp-inspector --cli URL [--protocol-era ERA] --method tools/list
#   mcp-inspector --cli URL --method tools/call --tool-name echo --tool-arg text=hello
#   mcp-inspector --cli URL --method tools/call --tool-name slow --tool-args-json '{"seconds":1,"steps":2}'
#
# Each step prints one JSON line on stdout, {"step", "ok", "seconds", "detail"} (detail: the
# Inspector's last line of output); exit 0 when every step succeeded, 1 at the first that failed,
# 2 for a usage mistake. With --keep-going a failed call does not end the job: the next call is
# made (as an agent tells its model the tool failed and goes on), and the exit is 1 if any failed.
#
# The server: the URL (first argument, else $MCPCHAOS_SERVER_URL), or --stdio COMMAND (else
# $MCPCHAOS_SERVER_COMMAND; the Inspector starts it once per step).
# --era legacy (the CLI's default for an ad-hoc URL), auto or modern (2026-07-28).
# Timeouts: the CLI has --connect-timeout (15 s by default) and no per-request flag; a call waits
# for the SDK's default request timeout, 60 s (a config file's requestTimeout was not applied in
# --cli mode: docs/clients.md).
#
# The Inspector: $MCPCHAOS_INSPECTOR if set, else .tools/clients of this repository
# (scripts/clients-setup.sh), else `npx --yes @modelcontextprotocol/inspector@2.12.0`.
#
#   examples/clients/inspector_cli.sh http://127.0.0.1:8080/mcp
#   examples/clients/inspector_cli.sh --era auto --slow-seconds 0.5 http://127.0.0.1:8080/mcp
#   examples/clients/inspector_cli.sh --keep-going http://127.0.0.1:8080/mcp
set -uo pipefail

usage() {
    echo "usage: inspector_cli.sh [URL] [--stdio COMMAND] [--era legacy|auto|modern] [--slow-seconds S] [--keep-going]" >&2
    echo "inspector_cli.sh: error: $1" >&2
    exit 2
}

url="${MCPCHAOS_SERVER_URL:-}"
stdio="${MCPCHAOS_SERVER_COMMAND:-}"
era=legacy
slow_seconds=1
keep_going=""
while [ $# -gt 0 ]; do
    case "$1" in
        --stdio) [ $# -ge 2 ] || usage "--stdio needs a command"; stdio="$2"; url=""; shift 2 ;;
        --era) [ $# -ge 2 ] || usage "--era needs legacy, auto or modern"; era="$2"; shift 2 ;;
        --slow-seconds) [ $# -ge 2 ] || usage "--slow-seconds needs a number"; slow_seconds="$2"; shift 2 ;;
        --keep-going) keep_going=1; shift ;;
        -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) usage "unknown option $1" ;;
        *) url="$1"; stdio=""; shift ;;
    esac
done
case "$era" in legacy | auto | modern) ;; *) usage "--era must be legacy, auto or modern, not '$era'" ;; esac
[[ "$slow_seconds" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage "--slow-seconds must be a number, not '$slow_seconds'"
[ -n "$url" ] || [ -n "$stdio" ] || usage "give the server's URL (or set MCPCHAOS_SERVER_URL), or --stdio COMMAND"

here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${MCPCHAOS_INSPECTOR:-}" ]; then
    read -r -a inspector <<< "$MCPCHAOS_INSPECTOR"
elif [ -x "$here/../../.tools/clients/node_modules/.bin/mcp-inspector" ]; then
    node_bin="$(ls "$here"/../../.tools/node22/node_modules/node-linux-*/bin/node 2>/dev/null | head -1)"
    inspector=("${node_bin:-node}" "$here/../../.tools/clients/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js")
else
    inspector=(npx --yes @modelcontextprotocol/inspector@2.12.0)
fi
if [ -n "$url" ]; then
    target=("$url")
else
    read -r -a target <<< "$stdio"
fi

# One Inspector invocation as a step: its JSON line, and false when it failed. The tools named
# in $require must be in its output (for tools/list).
require=""
step() {
    local name="$1" started ended output status detail tool
    shift
    started="$(date +%s.%N)"
    output="$("${inspector[@]}" --cli "${target[@]}" --protocol-era "$era" --format json "$@" 2>&1)"
    status=$?
    ended="$(date +%s.%N)"
    detail="$(printf '%s\n' "$output" | grep -v '^\[mcp-inspector\]' | tail -n 1 | cut -c1-240)"
    for tool in $require; do
        if [ "$status" = 0 ] && ! printf '%s' "$output" | grep -q "\"name\":\"$tool\""; then
            status=1
            detail="missing tool $tool"
        fi
    done
    python3 -c 'import json, sys; print(json.dumps({"step": sys.argv[1], "ok": sys.argv[2] == "0",
        "seconds": round(float(sys.argv[4]) - float(sys.argv[3]), 3), "detail": sys.argv[5]}))' \
        "$name" "$status" "$started" "$ended" "$detail"
    return "$status"
}

require="echo slow" step list_tools --method tools/list || exit 1
failed=""
step echo --method tools/call --tool-name echo --tool-arg text=hello || failed=1
[ -z "$failed" ] || [ -n "$keep_going" ] || exit 1
step slow --method tools/call --tool-name slow --tool-args-json "{\"seconds\": $slow_seconds, \"steps\": 2}" || failed=1
[ -z "$failed" ] || exit 1
