#!/usr/bin/env bash
# Where the HTTP proxy stands against its floors, side by side: the sessionless wrk load of
# `http-sessionless` (16 keep-alive connections) through `mcpchaos link` (L4), bench.bare_l7
# (the bare HTTP-aware relay: httptools + orjson and nothing else) and `mcpchaos proxy`, in
# alternating rounds against one bench.echo_http upstream. Prints each hop's user and system
# CPU µs per request (/proc utime and stime over the run) and req/s.
#
#   bash bench/floor.sh [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; seconds=${2:-4}
py=.venv/bin/python
command -v wrk >/dev/null || { echo "floor: needs wrk (apt-get install wrk)" >&2; exit 2; }
script=$(mktemp --suffix=.lua)
$py -c "from bench import common; print(common.wrk_script(common.Sessionless.call()))" > "$script"
up_port=$($py -c "from bench.common import free_port; print(free_port())")
$py -m bench.echo_http "$up_port" >/dev/null 2>&1 &
upstream=$!
trap 'kill $upstream 2>/dev/null; rm -f "$script"' EXIT
sleep 1.5
tick_us=$((1000000 / $(getconf CLK_TCK)))
for round in $(seq "$rounds"); do
    for hop in link bare proxy; do
        port=$($py -c "from bench.common import free_port; print(free_port())")
        case $hop in
            link) cmd=(-m mcpchaos link --listen "127.0.0.1:$port" --upstream "127.0.0.1:$up_port") ;;
            bare) cmd=(-m bench.bare_l7 "$port" "$up_port") ;;
            proxy) cmd=(-m mcpchaos proxy --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$up_port/mcp") ;;
        esac
        PYTHONPATH=src:. $py "${cmd[@]}" >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
        wrk -t1 -c16 -d1s -s "$script" "http://127.0.0.1:$port/mcp" >/dev/null  # warm up
        read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
        out=$(wrk -t1 -c16 -d"${seconds}s" -s "$script" "http://127.0.0.1:$port/mcp")
        read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
        kill $pid; wait $pid 2>/dev/null || true
        requests=$(grep -o '"requests":[0-9]*' <<<"$out" | cut -d: -f2)
        bad=$(grep -o '"bad":[0-9]*' <<<"$out" | cut -d: -f2)
        echo "round $round $hop: $((requests / seconds)) req/s," \
            "user $(((u1 - u0) * tick_us / requests)) + system $(((s1 - s0) * tick_us / requests)) µs/request," \
            "bad answers $bad"
    done
done
