#!/usr/bin/env bash
# bench/cost.sh: instructions per request of each HTTP server, counted by callgrind: a figure
# other load on a shared machine cannot move, to read beside bench/http.sh's requests/s.
#
# Usage (from anywhere in the repository):
#     bash bench/cost.sh
#
# What it does:
#   1. builds the release binary, the `sample` plugin and the baseline examples (NO_BUILD=1 skips);
#   2. installs valgrind with apt-get if it is missing (sudo when not root);
#   3. for each server (baseline_fixed, baseline_whole, baseline_serde, runjsonrpc2 serving `sample` in one
#      process with one call thread, as in bench/http.sh, and `supervised`, the same under the default
#      master with its 2 workers, all processes traced and counted; `authed`, runjsonrpc2 with
#      --auth and the client's credentials, verified once and then cached; and `credentials`,
#      runjsonrpc2 without --auth sent the same Authorization header; `logged`, runjsonrpc2 with
#      --access-log to a file, for the log's cost; not run unless SERVERS names it)
#      and each body (a single `add(1, 2)`, a batch of 100):
#      runs the server under `valgrind --tool=callgrind` twice, answering FEW and then
#      FEW + MANY requests from one keep-alive connection on 127.0.0.1, and takes
#      (instructions of the second run - instructions of the first) / MANY: the instructions
#      one more request costs, all threads, start-up and shut-down cancelled out;
#   4. prints a markdown table and the ratios to the baselines.
#
# Environment: FEW (default 100), MANY (default 1000), NO_BUILD=1, SERVERS (a space-separated
# subset of the servers above, e.g. SERVERS="runjsonrpc2 authed"). Every server started here is
# stopped (SIGTERM, wait) before the next starts; traffic goes to 127.0.0.1 only.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
source bench/lib.sh
REL=$ROOT/target/release
FEW=${FEW:-100}
MANY=${MANY:-1000}
BATCH=100

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

if [ -z "${NO_BUILD:-}" ]; then
    echo "== cargo build --release -p runjsonrpc2 -p sample --lib --bins --examples" >&2
    cargo build --release -p runjsonrpc2 -p sample --lib --bins --examples >&2
fi
if ! command -v valgrind >/dev/null; then
    SUDO=()
    [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    echo "== installing valgrind" >&2
    "${SUDO[@]}" apt-get install -y valgrind >&2 ||
        { "${SUDO[@]}" apt-get update >&2 && "${SUDO[@]}" apt-get install -y valgrind >&2; }
fi

# The client: N POSTs of one body over one keep-alive connection; every answer must hold
# CALLS results of 3.
cat >"$TMP/client.py" <<'EOF'
import http.client, sys
port, n, path, calls = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
body = open(path, "rb").read()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
headers = {"Content-Type": "application/json"}
if len(sys.argv) > 5:
    headers["Authorization"] = sys.argv[5]
for _ in range(n):
    conn.request("POST", "/", body, headers)
    answer = conn.getresponse().read()
    if answer.count(b'"result":3') != calls:
        sys.exit(f"unexpected answer: {answer[:200]!r}")
EOF

printf '%s' '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}' >"$TMP/single.json"
python3 -c "import json; print(json.dumps([{'jsonrpc': '2.0', 'method': 'add', 'params': [1, 2], 'id': i}
    for i in range(1, $BATCH + 1)], separators=(',', ':')), end='')" >"$TMP/batch.json"

# instructions NAME BODY CALLS N COMMAND...: the instructions (callgrind's total, all threads) of
# one server process that starts, answers N requests and stops.
instructions() {
    local name=$1 body=$2 calls=$3 n=$4 port
    shift 4
    rm -f "$TMP/$name".cg.*
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$TMP/$name.cg.%p" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SERVER_PID=$!
    port=$(listening_url "$TMP/$name.out" "$SERVER_PID" 300)
    port=${port%/}
    port=${port##*:}
    [ -n "$port" ] || { echo "bench/cost.sh: $name did not start" >&2; cat "$TMP/$name.err" >&2; exit 1; }
    python3 "$TMP/client.py" "$port" "$n" "$TMP/$body.json" "$calls" ${AUTH_HEADER:+"$AUTH_HEADER"}
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    # Every process's total (a master and its workers write one file each).
    for cg in "$TMP/$name".cg.*; do awk '/^(summary|totals):/ { print $2; exit }' "$cg"; done |
        awk '{ s += $1 } END { print s }'
}

# The auth file of the `authed` server: one user allowed every method.
printf 'bench-secret' | "$REL/runjsonrpc2" auth add bench >"$TMP/users.auth"
AUTH="Basic $(printf 'bench:bench-secret' | base64)"

declare -A COST
read -r -a SERVERS <<<"${SERVERS:-baseline_fixed baseline_whole baseline_serde runjsonrpc2 supervised credentials authed}"
command_of() {
    case $1 in
    baseline_*) echo "$REL/examples/$1 1 0" ;;
    runjsonrpc2) echo "$REL/runjsonrpc2 --port 0 --workers 0 --no-prefix --plugin-path $REL sample" ;;
    supervised) echo "$REL/runjsonrpc2 --port 0 --no-prefix --plugin-path $REL sample" ;;
    credentials) command_of runjsonrpc2 ;;
    authed) echo "$REL/runjsonrpc2 --port 0 --workers 0 --no-prefix --auth $TMP/users.auth --plugin-path $REL sample" ;;
    logged) echo "$REL/runjsonrpc2 --port 0 --workers 0 --no-prefix --access-log $TMP/access.log --plugin-path $REL sample" ;;
    esac
}
for body in single batch; do
    calls=1
    [ "$body" = batch ] && calls=$BATCH
    for name in "${SERVERS[@]}"; do
        case $name-$body in baseline_fixed-batch | baseline_whole-batch) continue ;; esac
        AUTH_HEADER=
        case $name in authed | credentials) AUTH_HEADER=$AUTH ;; esac
        # shellcheck disable=SC2046
        few=$(instructions "$name" "$body" "$calls" "$FEW" $(command_of "$name"))
        # shellcheck disable=SC2046
        all=$(instructions "$name" "$body" "$calls" $((FEW + MANY)) $(command_of "$name"))
        COST[$name-$body]=$(((all - few) / MANY))
        echo "   $name $body: ${COST[$name-$body]} instructions per request" >&2
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
echo
echo "Instructions per request (callgrind, all threads of the server; one keep-alive client;"
echo "$MANY requests after $FEW); $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| server | body | instructions/request | instructions/call |"
echo "| --- | --- | ---: | ---: |"
for body in single batch; do
    calls=1
    [ "$body" = batch ] && calls=$BATCH
    for name in "${SERVERS[@]}"; do
        [ -n "${COST[$name-$body]:-}" ] || continue
        echo "| $name | $body | ${COST[$name-$body]} | $((COST[$name-$body] / calls)) |"
    done
done
echo
cost_ratio() { [ -n "${COST[$1]:-}" ] && [ -n "${COST[$2]:-}" ] && ratio "${COST[$1]}" "${COST[$2]}" || echo "not measured"; }
echo "- baseline_fixed / runjsonrpc2, single (tiny_http's own answer path):" \
    "$(cost_ratio baseline_fixed-single runjsonrpc2-single)"
echo "- baseline_whole / runjsonrpc2, single (the same answer path as runjsonrpc2's: the share of a" \
    "request's work that is the HTTP stack): $(cost_ratio baseline_whole-single runjsonrpc2-single)"
echo "- baseline_serde / runjsonrpc2, single: $(cost_ratio baseline_serde-single runjsonrpc2-single)"
echo "- baseline_serde / runjsonrpc2, batch-$BATCH: $(cost_ratio baseline_serde-batch runjsonrpc2-batch)"
echo "- runjsonrpc2 (--workers 0) / supervised (master + 2 workers), single: $(cost_ratio runjsonrpc2-single supervised-single)," \
    "batch-$BATCH: $(cost_ratio runjsonrpc2-batch supervised-batch) (the cost of supervision)"
echo "- authed / credentials, single: $(cost_ratio authed-single credentials-single)," \
    "batch-$BATCH: $(cost_ratio authed-batch credentials-batch) (the cost of checking a cached credential; goal <= 1.05)"
echo "- authed / runjsonrpc2, single: $(cost_ratio authed-single runjsonrpc2-single)," \
    "batch-$BATCH: $(cost_ratio authed-batch runjsonrpc2-batch) (the same, plus tiny_http's parsing of the header)"
