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
