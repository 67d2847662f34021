#!/usr/bin/env bash
# bench/conn.sh: the connection layer (#23) under 32, 256 and 1,000 connections: runjsonrpc2
# against jsonrpsee and, given OLD, against an older build of runjsonrpc2 (tiny_http).
#
# Usage (from anywhere in the repository):
#     bash bench/conn.sh                                       # new runjsonrpc2 and jsonrpsee
#     OLD=/work/wt-old/target/release bash bench/conn.sh       # and an old build's rows
#
# What it does:
#   1. builds target/release/runjsonrpc2 with the sample plugin and bench/jsonrpsee's `wide`
#      example (jsonrpsee with its 100-connection cap raised to 10,000: past the cap jsonrpsee
#      answers 429, which would be measured as throughput); installs wrk with apt-get if missing;
#   2. starts, each pinned to CPU 0 (taskset -c 0), on 127.0.0.1 and a free port:
#        jsonrpsee  bench/jsonrpsee/target/release/examples/wide (one tokio thread)
#        new        runjsonrpc2 --port 0 --no-prefix -q --plugin-path REL sample
#                   (the default process model: a master and 2 workers)
#        new-w0     the same with --workers 0 (one process)
#        old        $OLD/runjsonrpc2 with the same arguments (its defaults: a master, 2 workers,
#                   --threads 0, i.e. up to 64 call threads each) and $OLD/libsample.so
#      and, with TIMEOUT0=1 (the default), the same three runjsonrpc2 servers with --timeout 0,
#      measured only with 32 connections and single calls;
#   3. checks each server's answer once with curl, then for $ROUNDS rounds drives each server in
#      turn, for CONNS in $CONNS_LIST and for a single `add(1, 2)` call and a batch of 100 calls,
#      from CPU 1 with
#        taskset -c 1 wrk -t1 -c$CONNS -d${DURATION}s --timeout 10s -s bench/post.lua URL
#      after a ${WARMUP}s unrecorded warm-up; the servers take turns, so a slow spell of this
#      shared machine falls on all of them. With perf, context switches on CPU 0 are counted
#      over each measured run (`perf stat -e context-switches -C 0`);
#   4. prints markdown tables: per row the median calls/s over the rounds and its range, wrk's
#      errors and non-2xx answers summed over the rounds, server CPU (user + system, the process
#      and its children) per call and CPU 0's context switches per request (medians); then the
#      ratios the goals name, computed round by round (each round's pair ran a minute apart at
#      most) with their median and range.
#
# Environment: OLD (a target/release directory holding an older runjsonrpc2 and libsample.so;
# without it the old rows are skipped), ROUNDS (default 5), DURATION (seconds, default 5),
# WARMUP (seconds, default 1; 0 for none), CONNS_LIST (default "32 256 1000"), TIMEOUT0 (1 or 0,
# default 1), NO_BUILD=1 to skip the builds. Needs 2 CPUs. Traffic goes to 127.0.0.1 only; the
# load is bounded (about (WARMUP + DURATION) x ROUNDS x (8 x number of CONNS_LIST + 3) seconds
# with OLD, 40 minutes at most for the defaults), every wrk run is bounded by -d, and every
# server started here is stopped (kill, wait) on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
source bench/lib.sh
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS_LIST=${CONNS_LIST:-32 256 1000}
TIMEOUT0=${TIMEOUT0:-1}
OLD=${OLD:-}
REL=$ROOT/target/release
JSONRPSEE=$ROOT/bench/jsonrpsee/target/release/examples/wide
BATCH=100

if [ "$(nproc)" -lt 2 ]; then
    echo "bench/conn.sh: needs 2 CPUs (servers on CPU 0, wrk on CPU 1); this machine has $(nproc)" >&2
    exit 1
fi
# wrk and the servers each hold one descriptor per connection (a master: none).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    echo "bench/conn.sh: ulimit -n is $(ulimit -n); 1,000 connections need more" >&2
    exit 1
fi

stop_on_exit

if [ -z "${NO_BUILD:-}" ]; then
    echo "== cargo build --release -p runjsonrpc2 -p sample --lib --bins" >&2
    cargo build --release -p runjsonrpc2 -p sample --lib --bins >&2
    echo "== (cd bench/jsonrpsee && cargo build --release --examples)" >&2
    (cd bench/jsonrpsee && cargo build --release --examples >&2)
fi
for f in "$REL/runjsonrpc2" "$REL/libsample.so" "$JSONRPSEE" ${OLD:+"$OLD/runjsonrpc2" "$OLD/libsample.so"}; do
    [ -e "$f" ] || { echo "bench/conn.sh: $f is missing" >&2; exit 1; }
done
need_wrk
PERF=
if command -v perf >/dev/null && perf stat -e context-switches -C 0 -- true >/dev/null 2>&1; then PERF=1; fi

printf '%s' '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}' >"$TMP/single.json"
{
    printf '['
    for i in $(seq 1 "$BATCH"); do
        [ "$i" -eq 1 ] || printf ','
        printf '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":%d}' "$i"
    done
    printf ']'
} >"$TMP/batch.json"

tree() { echo "$1"; pgrep -P "$1" || true; }
# ticks PID: CPU time (user + system, all threads, live and ended) of a process and its children.
ticks() { for p in $(tree "$1"); do sed 's/.*) //' "/proc/$p/stat"; done | awk '{ s += $12 + $13 } END { print s }'; }
HZ=$(getconf CLK_TCK)

declare -A URL PID
# start NAME COMMAND...: starts a server on CPU 0 and records its URL and pid.
start() {
    local name=$1 url
    shift
    taskset -c 0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PID[$name]=$!
    PIDS+=("$!")
    url=$(listening_url "$TMP/$name.out" "${PID[$name]}" 100)
    if [ -z "$url" ]; then
        echo "bench/conn.sh: $name did not start:" >&2
        cat "$TMP/$name.out" "$TMP/$name.err" >&2
        exit 1
    fi
    URL[$name]=$url
    echo "== $name: $url (pid ${PID[$name]})" >&2
}
# check NAME BODY CALLS: one request with curl; the answer must hold CALLS results of 3.
check() {
    local got
    got=$(curl -sS -m 10 -H 'Content-Type: application/json' --data-binary "@$TMP/$2.json" "${URL[$1]}" |
        grep -o '"result":3' | wc -l)
    [ "$got" -eq "$3" ] || { echo "bench/conn.sh: $1 answered $got results of 3 to $2, expected $3" >&2; exit 1; }
}

SERVERS=(jsonrpsee new new-w0)
start jsonrpsee "$JSONRPSEE"
start new "$REL/runjsonrpc2" --port 0 --no-prefix -q --plugin-path "$REL" sample
start new-w0 "$REL/runjsonrpc2" --port 0 --workers 0 --no-prefix -q --plugin-path "$REL" sample
if [ -n "$OLD" ]; then
    SERVERS+=(old)
    start old "$OLD/runjsonrpc2" --port 0 --no-prefix -q --plugin-path "$OLD" sample
fi
T0_SERVERS=()
if [ "$TIMEOUT0" = 1 ]; then
    T0_SERVERS=(new-t0 new-w0-t0)
    start new-t0 "$REL/runjsonrpc2" --port 0 --timeout 0 --no-prefix -q --plugin-path "$REL" sample
    start new-w0-t0 "$REL/runjsonrpc2" --port 0 --workers 0 --timeout 0 --no-prefix -q --plugin-path "$REL" sample
    if [ -n "$OLD" ]; then
        T0_SERVERS+=(old-t0)
        start old-t0 "$OLD/runjsonrpc2" --port 0 --timeout 0 --no-prefix -q --plugin-path "$OLD" sample
    fi
fi
sleep 0.5
for name in "${SERVERS[@]}" "${T0_SERVERS[@]}"; do
    check "$name" single 1
    check "$name" batch "$BATCH"
done

# measure NAME BODY CALLS CONNS: a warm-up and a measured wrk run; appends
# "calls/s errors non2xx server_cpu_us_per_call cpu0_switches_per_request" to $TMP/NAME-BODY-CONNS.res.
measure() {
    local name=$1 body=$2 calls=$3 conns=$4 out t0 t1 line sw=0
    local url=${URL[$name]}
    if [ "$WARMUP" != 0 ]; then
        BODY="$TMP/$body.json" taskset -c 1 wrk -t1 "-c$conns" "-d${WARMUP}s" --timeout 10s \
            -s bench/post.lua "$url" >/dev/null
    fi
    out="$TMP/$name-$body-$conns.wrk"
    t0=$(ticks "${PID[$name]}")
    if [ -n "$PERF" ]; then
        BODY="$TMP/$body.json" taskset -c 1 perf stat -x, -e context-switches -C 0 -o "$TMP/perf.csv" -- \
            wrk -t1 "-c$conns" "-d${DURATION}s" --timeout 10s -s bench/post.lua "$url" >"$out"
        sw=$(awk -F, '$3 == "context-switches" { print $1 }' "$TMP/perf.csv")
    else
        BODY="$TMP/$body.json" taskset -c 1 wrk -t1 "-c$conns" "-d${DURATION}s" --timeout 10s \
            -s bench/post.lua "$url" >"$out"
    fi
    t1=$(ticks "${PID[$name]}")
    line=$(grep '^RESULT ' "$out") || { cat "$out" >&2; exit 1; }
    grep -E '^ *(Socket errors|Non-2xx)' "$out" >&2 || true
    # shellcheck disable=SC2086
    echo $line | awk -v cpu=$((t1 - t0)) -v hz="$HZ" -v n="$calls" -v sw="${sw:-0}" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        r = v["requests"]; if (r == 0) r = 1
        printf "%.0f %d %d %.3f %.3f\n", v["requests"] * n / (v["duration_us"] / 1e6), v["errors"], v["non2xx"],
            cpu / hz * 1e6 / (r * n), sw / r
    }' | tee -a "$TMP/$name-$body-$conns.res" | awk -v s="$name $body -c$conns" '{ printf \
        "   %s: %d calls/s, errors %d, non-2xx %d, server CPU %.3f us/call, CPU 0 switches %.3f/request\n",
        s, $1, $2, $3, $4, $5 }' >&2
}

CASES=()
for conns in $CONNS_LIST; do
    for body in single batch; do
        calls=1
        [ "$body" = batch ] && calls=$BATCH
        for name in "${SERVERS[@]}"; do CASES+=("$name $body $calls $conns"); done
    done
done
for name in "${T0_SERVERS[@]}"; do CASES+=("$name single 1 32"); done

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ): ${#CASES[@]} runs a round, $ROUNDS rounds" >&2
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round of $ROUNDS" >&2
    for c in "${CASES[@]}"; do
        # shellcheck disable=SC2086
        measure $c
    done
done

# median FILE COLUMN: the median of a column (the lower middle for an even count).
median() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# column FILE COLUMN OP: min, max or sum of a column.
column() { awk -v c="$2" -v op="$3" 'NR == 1 { m = $c } { s += $c; if ($c < m && op == "min") m = $c;
    if ($c > m && op == "max") m = $c } END { print (op == "sum") ? s : m }' "$1"; }
# paired A B: A/B round by round (files A and B), as "median (min-max; r1, r2, ...)".
paired() {
    paste -d' ' "$1" "$2" | awk '{ print $1 / $6 }' >"$TMP/ratios"
    printf '%s (%s-%s; %s)' "$(median "$TMP/ratios" 1 | xargs printf '%.2f')" \
        "$(column "$TMP/ratios" 1 min | xargs printf '%.2f')" "$(column "$TMP/ratios" 1 max | xargs printf '%.2f')" \
        "$(awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 }' "$TMP/ratios")"
}
res() { echo "$TMP/$1-$2-$3.res"; }

echo
echo "Connections: servers on CPU 0, wrk -t1 -d${DURATION}s (after a ${WARMUP}s warm-up) on CPU 1; $ROUNDS rounds," \
    "medians; $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| server | body | connections | calls/s | range | errors | non-2xx | server CPU (us/call) | CPU 0 switches/request |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in "${CASES[@]}"; do
    read -r name body calls conns <<<"$c"
    f=$(res "$name" "$body" "$conns")
    echo "| $name | $body | $conns | $(median "$f" 1) | $(column "$f" 1 min)-$(column "$f" 1 max) | $(column "$f" 2 sum)" \
        "| $(column "$f" 3 sum) | $(median "$f" 4) | ${PERF:+$(median "$f" 5)} |"
done
echo
echo "Ratios of calls/s, round by round: median (range; each round)."
echo
echo "| ratio | body | connections | median (range; rounds) | goal |"
echo "| --- | --- | ---: | --- | --- |"
for conns in $CONNS_LIST; do
    for body in single batch; do
        goal=
        [ "$conns" = 32 ] && [ "$body" = single ] && goal=">= 1.0"
        [ "$body" = batch ] && goal=">= 2.5"
        echo "| new / jsonrpsee | $body | $conns | $(paired "$(res new "$body" "$conns")" "$(res jsonrpsee "$body" "$conns")") | $goal |"
        if [ -n "$OLD" ]; then
            goal=
            [ "$body" = single ] && goal=">= 1.5"
            [ "$conns" != 32 ] && goal=">= 1.5"
            echo "| new / old | $body | $conns | $(paired "$(res new "$body" "$conns")" "$(res old "$body" "$conns")") | $goal |"
        fi
        echo "| new (2 workers) / new-w0 | $body | $conns | $(paired "$(res new "$body" "$conns")" "$(res new-w0 "$body" "$conns")") | >= 0.95 |"
    done
done
if [ "$TIMEOUT0" = 1 ]; then
    echo "| new-t0 / new | single | 32 | $(paired "$(res new-t0 single 32)" "$(res new single 32)") | |"
    echo "| new-w0-t0 / new-w0 | single | 32 | $(paired "$(res new-w0-t0 single 32)" "$(res new-w0 single 32)") | |"
    if [ -n "$OLD" ]; then
        echo "| old-t0 / old | single | 32 | $(paired "$(res old-t0 single 32)" "$(res old single 32)") | |"
        echo "| new-t0 / old-t0 | single | 32 | $(paired "$(res new-t0 single 32)" "$(res old-t0 single 32)") | |"
    fi
fi
for name in "${SERVERS[@]}" "${T0_SERVERS[@]}"; do
    if ! kill -0 "${PID[$name]}" 2>/dev/null; then echo "bench/conn.sh: $name is no longer running" >&2; fi
    if [ -s "$TMP/$name.err" ]; then echo "bench/conn.sh: $name wrote to stderr:" >&2; tail -n 5 "$TMP/$name.err" >&2; fi
done
