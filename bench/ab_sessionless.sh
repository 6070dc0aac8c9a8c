#!/usr/bin/env bash
# Before/after of one HTTP proxy change, side by side: the sessionless wrk load (bench.common's
# request, 16 keep-alive connections) through `mcpchaos proxy` run from two source trees in
# alternating rounds, against the same bench.echo_http upstream. Prints req/s and the proxy
# process's CPU µs per request (utime+stime from /proc over the run).
#
#   git worktree add /tmp/before abc1478      # the tree to compare with
#   bash bench/ab_sessionless.sh /tmp/before . [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
a=$(realpath "$1"); b=$(realpath "$2"); rounds=${3:-3}; seconds=${4:-4}
py=.venv/bin/python
command -v wrk >/dev/null || { echo "ab_sessionless: needs wrk (apt-get install wrk)" >&2; exit 2; }
script=$(mktemp --suffix=.lua)
$py -c "from bench import common; print(common.wrk_script(common.Sessionless.call()))" > "$script"
up_port=$($py -c "from bench.common import free_port; print(free_port())")
$py -m bench.echo_http "$up_port" >/dev/null 2>&1 &
upstream=$!
trap 'kill $upstream 2>/dev/null; rm -f "$script"' EXIT
sleep 1.5
for round in $(seq "$rounds"); do
    for tree in "$a" "$b"; do
        port=$($py -c "from bench.common import free_port; print(free_port())")
        PYTHONPATH="$tree/src" $py -m mcpchaos proxy --listen "127.0.0.1:$port" \
            --upstream "http://127.0.0.1:$up_port/mcp" >/dev/null 2>&1 &
        proxy=$!
        for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
        before=$(awk '{print $14+$15}' "/proc/$proxy/stat")
        out=$(wrk -t1 -c16 -d"${seconds}s" -s "$script" "http://127.0.0.1:$port/mcp")
        after=$(awk '{print $14+$15}' "/proc/$proxy/stat")
        kill $proxy; wait $proxy 2>/dev/null || true
        requests=$(grep -o '"requests":[0-9]*' <<<"$out" | cut -d: -f2)
        bad=$(grep -o '"bad":[0-9]*' <<<"$out" | cut -d: -f2)
        tick_us=$((1000000 / $(getconf CLK_TCK)))
        echo "round $round $(basename "$tree"): $((requests / seconds)) req/s," \
            "proxy CPU $(((after - before) * tick_us / requests)) µs/request, bad answers $bad"
    done
done
