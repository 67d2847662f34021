# bench/lib.sh: what the bench scripts share; sourced by them, not run.

# listening_url FILE PID TRIES: prints the URL of the server's "listening on http://.../" line
# once FILE holds it, polling every 0.1 s at most TRIES times while PID is alive; prints
# nothing if the line never comes.
listening_url() {
    local file=$1 pid=$2 tries=$3 url=
    for _ in $(seq 1 "$tries"); do
        url=$(sed -n 's|^listening on \(http://[^ ]*\).*|\1|p' "$file" | head -n 1)
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    printf '%s' "$url"
}

# stop_on_exit: makes $TMP, a scratch directory, and on exit stops (kill, wait) every pid the
# script adds to PIDS, then removes $TMP.
stop_on_exit() {
    TMP=$(mktemp -d)
    PIDS=()
    trap _stop_all EXIT
}
_stop_all() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}

# need_wrk: installs wrk with apt-get when it is missing (sudo when not root).
need_wrk() {
    command -v wrk >/dev/null && return
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "== installing wrk" >&2
    "${sudo[@]}" apt-get install -y wrk >&2 || { "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y wrk >&2; }
}
