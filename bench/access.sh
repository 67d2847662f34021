#!/usr/bin/env bash
# bench/access.sh: the access log's cost per request: the same server with and without
# --access-log (a file), single add(1,2) calls, taking turns round by round.
#
# Usage: bash bench/access.sh       (after cargo build --release -p runjsonrpc2 -p sample --lib --bins)
# Environment: ROUNDS (default 5), DURATION (seconds per run, default 3), CONNECTIONS (default 32).
# Servers on CPU 0 (--workers 0), wrk on CPU 1; loopback only; both servers stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-32}
command -v wrk >/dev/null || { echo "bench/access.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }
TMP=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
printf '%s' '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}' >"$TMP/single.json"
start() { # start NAME ARGS...: a server on CPU 0; sets URL
  local name=$1; shift
  taskset -c 0 target/release/runjsonrpc2 --port 0 --workers 0 --no-prefix -q --plugin-path target/release "$@" sample \
    >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PIDS+=($!)
  until grep -q "listening on" "$TMP/$name.out" 2>/dev/null; do sleep 0.05; done
  URL=$(head -1 "$TMP/$name.out" | cut -d' ' -f3)
}
start plain; PLAIN=$URL
start logged --access-log "$TMP/access.log"; LOGGED=$URL
rate() { BODY="$TMP/single.json" taskset -c 1 wrk -t1 "-c$CONNECTIONS" "-d${DURATION}s" -s bench/post.lua "$1" |
  sed -n 's/^RESULT requests=\([0-9]*\) duration_us=\([0-9]*\).*/\1 \2/p' | awk '{printf "%.0f\n", $1 / ($2 / 1e6)}'; }
ratios=()
for r in $(seq "$ROUNDS"); do
  a=$(rate "$PLAIN"); b=$(rate "$LOGGED")
  ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b / a}')
  ratios+=("$ratio")
  echo "round $r: without $a requests/s, with the access log $b requests/s, ratio $ratio"
done
echo "lines written: $(wc -l <"$TMP/access.log")"
printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print "with / without, median of " NR " rounds: " a[int((NR+1)/2)] " (range " a[1] "-" a[NR] ")"}'
