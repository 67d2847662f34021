#!/usr/bin/env bash
# bench/http.sh: HTTP throughput, latency and memory of runjsonrpc2 against bare tiny_http baselines.
#
# Usage (from anywhere in the repository):
#     bash bench/http.sh                # 10 s per measured run
#     DURATION=5 bash bench/http.sh     # shorter runs
#
# What it does:
#   1. builds the release binary, the `sample` plugin and the baseline examples:
#        cargo build --release -p runjsonrpc2 -p sample --lib --bins --examples
#   2. installs wrk with apt-get if it is missing (sudo when not root);
#   3. starts the four servers, each with 1 worker thread, pinned to CPU 0 (taskset -c 0), on
#      127.0.0.1 and a free port, and reads each one's idle VmRSS before any request:
#        baseline_fixed  bare tiny_http, reads the body, answers a fixed 35-byte JSON body
#        baseline_whole  the same, each answer framed whole and written at once as runjsonrpc2
#                        frames its own (src/server/wire.rs) instead of by Request::respond
#        baseline_serde  bare tiny_http, typed serde_json parse and answer (single or batch)
#        runjsonrpc2     target/release/runjsonrpc2 --port 0 --workers 0 --no-prefix \
#                          --plugin-path target/release sample   (one process, no master)
#        supervised      the same with the default process model (a master and 2 worker
#                        processes, each with a pool capped at 1 thread; figures cover them all)
#        authed          runjsonrpc2 with --auth (one user, every method); wrk sends the user's
#                        Basic credentials, verified once and then cached
#   4. checks each answer once with curl, then, for $ROUNDS rounds, drives the servers in turn
#      (one at a time) from CPU 1 with
#        taskset -c 1 wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency -s bench/post.lua URL
#      for a single `add(1, 2)` call and for a batch of 100 calls, each run after a ${WARMUP}s
#      unrecorded warm-up; taking turns spreads a slow spell of a shared machine over all servers;
#   5. prints a markdown table (median requests/s over the rounds and their range, calls/s =
#      requests/s x batch size, median latency p50/p99 as wrk's --latency reports them, the server's
#      CPU time per request, idle VmRSS, peak VmHWM after all runs) and the ratios the goals name;
#      then stops the servers.
#
# Environment: DURATION (seconds per run, default 10), ROUNDS (default 3), CONNECTIONS (default 32),
# WARMUP (seconds, default 1; 0 for none), NO_BUILD=1 to skip the cargo build. On a shared, noisy
# machine many short rounds (DURATION=1 ROUNDS=30 WARMUP=0) and the median of the round-by-round
# ratios say more than a few long rounds; bench/cost.sh counts instructions, which noise cannot move. Traffic goes to 127.0.0.1 only;
# the whole run is bounded (9 x ROUNDS x (WARMUP + DURATION) seconds of load) and every server
# started here is stopped (kill, wait) on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
source bench/lib.sh
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
REL=$ROOT/target/release
BATCH=100

if [ "$(nproc)" -lt 2 ]; then
    echo "bench/http.sh: needs 2 CPUs (server on CPU 0, wrk on CPU 1); this machine has $(nproc)" >&2
    exit 1
fi

stop_on_exit

if [ -z "${NO_BUILD:-}" ]; then
    echo "== cargo build --release -p runjsonrpc2 -p sample --lib --bins --examples" >&2
    cargo build --release -p runjsonrpc2 -p sample --lib --bins --examples >&2
fi
for f in "$REL/runjsonrpc2" "$REL/libsample.so" "$REL"/examples/baseline_{fixed,whole,serde}; do
    [ -e "$f" ] || { echo "bench/http.sh: $f is missing after the build" >&2; exit 1; }
done

need_wrk

# The request bodies: one call, and a batch of $BATCH calls with distinct ids.
printf '%s' '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}' >"$TMP/single.json"
{
    printf '['
    for i in $(seq 1 "$BATCH"); do
        [ "$i" -eq 1 ] || printf ','
        printf '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":%d}' "$i"
    done
    printf ']'
} >"$TMP/batch.json"

# tree PID: the process and its children (a master's workers).
tree() { echo "$1"; pgrep -P "$1" || true; }
# kib FIELD PID: a memory figure (VmRSS, VmHWM) of a process and its children, in KiB.
kib() { for p in $(tree "$2"); do awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/status"; done | awk '{ s += $1 } END { print s }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }

# start NAME COMMAND...: starts a server on CPU 0; sets SERVER_PID, SERVER_URL and IDLE_KIB.
start() {
    local name=$1
    shift
    taskset -c 0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    SERVER_URL=$(listening_url "$TMP/$name.out" "$SERVER_PID" 100)
    if [ -z "$SERVER_URL" ]; then
        echo "bench/http.sh: $name did not start:" >&2
        cat "$TMP/$name.out" "$TMP/$name.err" >&2
        exit 1
    fi
    sleep 0.2
    IDLE_KIB=$(kib VmRSS "$SERVER_PID")
    echo "== $name: $SERVER_URL (pid $SERVER_PID, idle VmRSS $IDLE_KIB KiB)" >&2
}

# auth_of NAME: the Authorization header the server NAME needs (empty for none).
auth_of() { if [ "$1" = authed ]; then echo "$AUTH_HEADER"; fi; }

# check NAME BODY CALLS: one request with curl; the answer must hold CALLS results of 3.
check() {
    local got
    got=$(curl -sS -H 'Content-Type: application/json' -H "Authorization: $(auth_of "$1")" \
        --data-binary "@$TMP/$2.json" "$SERVER_URL" |
        grep -o '"result":3' | wc -l)
    if [ "$got" -ne "$3" ]; then
        echo "bench/http.sh: $1 answered $got results of 3 to $2, expected $3" >&2
        exit 1
    fi
}

# ticks PID: the CPU time (user + system, all threads) a process and its children have used, in clock ticks.
ticks() { for p in $(tree "$1"); do sed 's/.*) //' "/proc/$p/stat"; done | awk '{ s += $12 + $13 } END { print s }'; }
HZ=$(getconf CLK_TCK)

# measure NAME BODY CALLS: one warm-up and one measured wrk run against server NAME; appends
# "requests/s p50_us p99_us errors server_cpu_us_per_request" to $TMP/NAME-BODY.res.
measure() {
    local name=$1 body=$2 calls=$3 out line t0 t1
    local url=${URL[$name]}
    if [ "$WARMUP" != 0 ]; then
        AUTH=$(auth_of "$name") BODY="$TMP/$body.json" taskset -c 1 wrk -t1 "-c$CONNECTIONS" "-d${WARMUP}s" \
            -s bench/post.lua "$url" >/dev/null
    fi
    out="$TMP/$name-$body.wrk"
    t0=$(ticks "${PID[$name]}")
    AUTH=$(auth_of "$name") BODY="$TMP/$body.json" taskset -c 1 wrk -t1 "-c$CONNECTIONS" "-d${DURATION}s" --latency -s bench/post.lua \
        "$url" >"$out"
    t1=$(ticks "${PID[$name]}")
    line=$(grep '^RESULT ' "$out") || { cat "$out" >&2; exit 1; }
    # shellcheck disable=SC2086
    echo $line | awk -v cpu=$((t1 - t0)) -v hz="$HZ" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%.0f %d %d %d %.2f\n", v["requests"] / (v["duration_us"] / 1e6), v["p50_us"], v["p99_us"],
            v["errors"] + v["non2xx"], cpu / hz * 1e6 / v["requests"]
    }' | tee -a "$TMP/$name-$body.res" | awk -v n="$name" -v b="$body" -v c="$calls" '{ printf \
        "   %s %s: %d requests/s, %d calls/s, p50 %d us, p99 %d us, errors %d, server CPU %.2f us/request\n",
        n, b, $1, $1 * c, $2, $3, $4, $5 }' >&2
}

# median FILE COLUMN: the median of a column of numbers (the lower middle for an even count).
median() { awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# column FILE COLUMN OP: min, max or sum of a column.
column() { awk -v c="$2" -v op="$3" 'NR == 1 { m = $c } { s += $c; if ($c < m && op == "min") m = $c;
    if ($c > m && op == "max") m = $c } END { print (op == "sum") ? s : m }' "$1"; }

declare -A URL PID IDLE
start baseline_fixed "$REL/examples/baseline_fixed" 1 0
URL[baseline_fixed]=$SERVER_URL PID[baseline_fixed]=$SERVER_PID IDLE[baseline_fixed]=$IDLE_KIB
start baseline_whole "$REL/examples/baseline_whole" 1 0
URL[baseline_whole]=$SERVER_URL PID[baseline_whole]=$SERVER_PID IDLE[baseline_whole]=$IDLE_KIB
start baseline_serde "$REL/examples/baseline_serde" 1 0
URL[baseline_serde]=$SERVER_URL PID[baseline_serde]=$SERVER_PID IDLE[baseline_serde]=$IDLE_KIB
start runjsonrpc2 "$REL/runjsonrpc2" --port 0 --workers 0 --no-prefix --plugin-path "$REL" sample
URL[runjsonrpc2]=$SERVER_URL PID[runjsonrpc2]=$SERVER_PID IDLE[runjsonrpc2]=$IDLE_KIB
start supervised "$REL/runjsonrpc2" --port 0 --no-prefix --plugin-path "$REL" sample
URL[supervised]=$SERVER_URL PID[supervised]=$SERVER_PID IDLE[supervised]=$IDLE_KIB
printf 'bench-secret' | "$REL/runjsonrpc2" auth add bench >"$TMP/users.auth"
AUTH_HEADER="Basic $(printf 'bench:bench-secret' | base64)"
start authed "$REL/runjsonrpc2" --port 0 --workers 0 --no-prefix --auth "$TMP/users.auth" \
    --plugin-path "$REL" sample
URL[authed]=$SERVER_URL PID[authed]=$SERVER_PID IDLE[authed]=$IDLE_KIB

# What is measured, in the order of each round: server, body, calls per request.
CASES=("baseline_fixed single 1" "baseline_whole single 1" "baseline_serde single 1" "runjsonrpc2 single 1"
    "supervised single 1" "authed single 1" "baseline_serde batch $BATCH" "runjsonrpc2 batch $BATCH"
    "supervised batch $BATCH")
for c in "${CASES[@]}"; do
    read -r name body calls <<<"$c"
    SERVER_URL=${URL[$name]}
    check "$name" "$body" "$calls"
done
# The servers take turns, round after round, so that a slow spell of a shared machine does not
# fall on one server only; each figure is the median over the rounds.
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round of $ROUNDS" >&2
    for c in "${CASES[@]}"; do
        # shellcheck disable=SC2086
        measure $c
    done
done

declare -A RPS CPU
ROWS=()
for c in "${CASES[@]}"; do
    read -r name body calls <<<"$c"
    f="$TMP/$name-$body.res"
    rps=$(median "$f" 1)
    RPS[$name-$body]=$rps
    hwm=$(kib VmHWM "${PID[$name]}")
    CPU[$name-$body]=$(median "$f" 5)
    ROWS+=("| $name | $body | $rps | $((rps * calls)) | $(column "$f" 1 min)–$(column "$f" 1 max) | $(median "$f" 2) \
| $(median "$f" 3) | $(column "$f" 4 sum) | ${CPU[$name-$body]} | $(mib "${IDLE[$name]}") | $(mib "$hwm") |")
done
RJ_IDLE=${IDLE[runjsonrpc2]}
RJ_PEAK=$(kib VmHWM "${PID[runjsonrpc2]}")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# paired NAME_A NAME_B BODY: the ratio A/B of requests/s within each round, listed.
paired() { paste -d' ' "$TMP/$1-$3.res" "$TMP/$2-$3.res" | awk '{ printf "%s%.3f", (NR > 1 ? ", " : ""), $1 / $(NF / 2 + 1) }'; }
# paired_median NAME_A NAME_B BODY: the median of those round-by-round ratios (the lower middle).
paired_median() { paired "$@" | tr ',' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
verdict() { awk -v x="$1" -v op="$2" -v g="$3" 'BEGIN {
    ok = (op == ">=") ? (x >= g) : (x < g); print (ok ? "met" : "NOT met") }'; }

echo
echo "HTTP: each server 1 worker thread on CPU 0; wrk -t1 -c$CONNECTIONS -d${DURATION}s on CPU 1;" \
    "$ROUNDS rounds, medians; $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| server | body | requests/s | calls/s | requests/s range | p50 (us) | p99 (us) | errors | server CPU (us/request)" \
    "| idle RSS (MiB) | peak RSS (MiB) |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
echo
echo "Idle RSS is VmRSS before any request; peak RSS is VmHWM after all of the server's runs. Server CPU is"
echo "the server process's user + system time (all threads) during the measured run over the requests it"
echo "answered: less sensitive than requests/s to other load on a shared machine."
echo
r=$(ratio "${RPS[runjsonrpc2-single]}" "${RPS[baseline_fixed-single]}")
echo "- runjsonrpc2 single / baseline_fixed single (requests/s): $r (goal >= 0.95: $(verdict "$r" ">=" 0.95))"
p=$(paired_median runjsonrpc2 baseline_fixed single)
echo "  median of the round-by-round ratios: $p (goal >= 0.95: $(verdict "$p" ">=" 0.95))"
echo "  (round by round: $(paired runjsonrpc2 baseline_fixed single));" \
    "by server CPU per request, baseline_fixed / runjsonrpc2: $(ratio "${CPU[baseline_fixed-single]}" "${CPU[runjsonrpc2-single]}")"
echo "- runjsonrpc2 single / baseline_whole single (requests/s; the same answer path, so this is what the JSON-RPC"
echo "  engine and the plugin call cost): $(ratio "${RPS[runjsonrpc2-single]}" "${RPS[baseline_whole-single]}");" \
    "median round ratio $(paired_median runjsonrpc2 baseline_whole single); by server CPU per request:" \
    "$(ratio "${CPU[baseline_whole-single]}" "${CPU[runjsonrpc2-single]}")"
echo "- runjsonrpc2 single / baseline_serde single (requests/s): $(ratio "${RPS[runjsonrpc2-single]}" "${RPS[baseline_serde-single]}")"
echo "- runjsonrpc2 batch-$BATCH / baseline_serde batch-$BATCH (calls/s):" \
    "$(ratio "${RPS[runjsonrpc2-batch]}" "${RPS[baseline_serde-batch]}")"
echo "  (round by round: $(paired runjsonrpc2 baseline_serde batch));" \
    "by server CPU per request, baseline_serde / runjsonrpc2: $(ratio "${CPU[baseline_serde-batch]}" "${CPU[runjsonrpc2-batch]}")"
for body in single batch; do
    echo "- supervised / runjsonrpc2 (--workers 0) $body (requests/s; the cost of supervision, goal >= 0.97):" \
        "$(ratio "${RPS[supervised-$body]}" "${RPS[runjsonrpc2-$body]}"); median round ratio" \
        "$(paired_median supervised runjsonrpc2 "$body") (round by round: $(paired supervised runjsonrpc2 "$body"));" \
        "by server CPU per request: $(ratio "${CPU[runjsonrpc2-$body]}" "${CPU[supervised-$body]}")"
done
r=$(paired_median authed runjsonrpc2 single)
echo "- authed / runjsonrpc2 single (requests/s; --auth at a cached credential, with tiny_http parsing the header;" \
    "bench/cost.sh separates the check itself):" \
    "$(ratio "${RPS[authed-single]}" "${RPS[runjsonrpc2-single]}"); median round ratio $r" \
    "(round by round: $(paired authed runjsonrpc2 single)); by server CPU per request:" \
    "$(ratio "${CPU[runjsonrpc2-single]}" "${CPU[authed-single]}")"
echo "- supervised idle RSS, master + 2 workers: $(mib "${IDLE[supervised]}") MiB"
m=$(mib "$RJ_IDLE")
echo "- runjsonrpc2 idle RSS (VmRSS before load): $m MiB (goal < 4 MiB: $(verdict "$m" "<" 4))"
m=$(mib "$RJ_PEAK")
echo "- runjsonrpc2 peak RSS (VmHWM after load): $m MiB (goal < 8 MiB: $(verdict "$m" "<" 8))"
