#!/usr/bin/env bash
# bench/jsonrpsee.sh: runjsonrpc2 against jsonrpsee (hyper, tokio), single calls and batch-100.
#
# Usage: bash bench/jsonrpsee.sh      (DURATION seconds per run, default 5; ROUNDS, default 3)
# Builds bench/jsonrpsee (its own crate, outside the workspace: never part of the product or
# of CI) and the release runjsonrpc2 with the sample plugin; runs both servers pinned to CPU 0
# with one thread each, wrk pinned to CPU 1 (-t1 -c32), in turns, and prints calls/s per run
# and the median ratio runjsonrpc2 / jsonrpsee. Loopback only; both servers are stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
command -v wrk >/dev/null || { echo "bench/jsonrpsee.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p runjsonrpc2 -p sample --lib --bins
(cd bench/jsonrpsee && cargo build --release -q)
TMP=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
echo -n '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}' > "$TMP/single.json"
python3 -c "import json; print('[' + ','.join(json.dumps({'jsonrpc': '2.0', 'method': 'add', 'params': [1, 2], 'id': i}) for i in range(1, 101)) + ']', end='')" > "$TMP/batch.json"
start() { # start NAME CMD...: runs CMD on CPU 0, waits for its `listening on` line, sets URL
  local name=$1; shift
  taskset -c 0 "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" &
  PIDS+=($!)
  until grep -q "listening on" "$TMP/$name.out" 2>/dev/null; do sleep 0.05; done
  URL=$(head -1 "$TMP/$name.out" | cut -d' ' -f3)
}
start jsonrpsee bench/jsonrpsee/target/release/baseline-jsonrpsee
JS=$URL
start runjsonrpc2 target/release/runjsonrpc2 --port 0 --no-prefix -q sample
RJ=$URL
calls() { # calls URL BODY: calls/s of one wrk run
  local n=1; [ "$2" = batch ] && n=100
  BODY="$TMP/$2.json" taskset -c 1 wrk -t1 -c32 "-d${DURATION}s" -s bench/post.lua "$1" |
    sed -n 's/^RESULT requests=\([0-9]*\) duration_us=\([0-9]*\).*/\1 \2/p' |
    awk -v n="$n" '{printf "%.0f\n", $1 * n / ($2 / 1e6)}'
}
for body in single batch; do
  ratios=()
  for r in $(seq "$ROUNDS"); do
    js=$(calls "$JS" "$body"); rj=$(calls "$RJ" "$body")
    ratio=$(awk -v a="$rj" -v b="$js" 'BEGIN {printf "%.2f", a / b}')
    ratios+=("$ratio")
    echo "$body round $r: jsonrpsee $js calls/s, runjsonrpc2 $rj calls/s, ratio $ratio"
  done
  median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$body: runjsonrpc2 / jsonrpsee calls/s, median of $ROUNDS rounds: $median"
done
