#!/usr/bin/env bash
# Two `koppeltaal serve` instances sharing one redis-server, each loaded by its own wrk with
# the same launches: every launch must be accepted exactly once across both.
#   benches/load/redis-load.sh [DURATION_SECONDS] [CONNECTIONS_PER_INSTANCE] [LAUNCHES]
set -euo pipefail
duration=${1:-20}
connections=${2:-8}
count=${3:-2000}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p koppeltaal-cli --manifest-path "$root/Cargo.toml"
bin="$root/target/release/koppeltaal"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no > "$work/redis.log" 2>&1 &
pids+=($!)
"$bin" keygen --out "$work/portal.pem" >/dev/null
"$bin" jwks --key "$work/portal.pem" > "$work/portal.jwks"
echo "signing $count RS512 launches..."
"$bin" launch --key "$work/portal.pem" --issuer https://portal.example.org --audience Device/42 \
    --sub Practitioner/a5e58253 --resource Task/11 --definition https://module.example.org/AD/1 \
    --count "$count" > "$work/launches.txt"
urls=()
for instance in a b; do
    "$bin" serve --listen 127.0.0.1:0 --jwks "$work/portal.jwks" --issuer https://portal.example.org \
        --audience Device/42 --replay-store "redis://127.0.0.1:$port/" 2> "$work/serve-$instance.log" &
    pids+=($!)
    for _ in $(seq 50); do grep -q listening "$work/serve-$instance.log" && break; sleep 0.1; done
    urls+=("$(grep -o 'http://[0-9.:]*' "$work/serve-$instance.log" | head -1)")
done
echo "redis on port $port; instances ${urls[*]}"
for instance in 0 1; do
    LAUNCHES="$work/launches.txt" wrk -t1 -c"$connections" -d"${duration}s" --latency \
        -s "$root/benches/load/launches.lua" "${urls[$instance]}/launch" > "$work/wrk-$instance.txt" &
    pids+=($!)
done
wait "${pids[-1]}" "${pids[-2]}"
for instance in 0 1; do
    echo "--- instance $instance"; grep -E "requests in|Requests/sec|Non-2xx|50%|99%" "$work/wrk-$instance.txt"
done
accepted=$(cat "$work"/serve-*.log | grep -c 'launch accepted' || true)
echo "accepted across both: $accepted (of $count launches)"
echo "refusals by code:"; cat "$work"/serve-*.log | grep 'launch refused' | sed 's/:.*//' | sort | uniq -c | sort -rn
