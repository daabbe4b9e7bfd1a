# Shared by dist/check.sh and dist/budgets.sh (sourced): a scratch directory `$work` removed on
# exit, and `koppeltaal serve` started (natively or under an emulator) and stopped.

work=$(mktemp -d)
serve_pid=""
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# start_serve LOG COMMAND...: runs COMMAND (a `koppeltaal serve --listen 127.0.0.1:0 ...`,
# perhaps behind qemu) in the background, waits up to 60 s for its "listening on" line, and
# sets serve_pid and serve_base (http://127.0.0.1:PORT). Exits, showing the log, if the server
# stops or never listens.
start_serve() {
    local log=$1
    shift
    "$@" > "$log" 2>&1 &
    serve_pid=$!
    serve_base=""
    for _ in $(seq 600); do
        serve_base=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" 2>/dev/null |
            sed 's/listening on //' || true)
        [ -n "$serve_base" ] && return 0
        kill -0 "$serve_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$log" >&2
    echo "dist: serve did not listen within 60 s: $*" >&2
    exit 1
}

# stop_serve: stops the server start_serve started.
stop_serve() {
    kill "$serve_pid"
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=""
}
