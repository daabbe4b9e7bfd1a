#!/usr/bin/env bash
# Two `koppeltaal serve` instances sharing one Redis deployment, each loaded by its own wrk
# with the same launches: every launch must be accepted exactly once across both.
#   benches/load/redis-load.sh [DURATION_SECONDS] [CONNECTIONS_PER_INSTANCE] [LAUNCHES] [TOPOLOGY]
# TOPOLOGY: plain (one redis-server), tls (one TLS-only redis-server, a CA made here), or
# sentinel (a primary, a replica and three sentinels; --replay-store-min-replicas 1).
set -euo pipefail
duration=${1:-20}
connections=${2:-8}
count=${3:-2000}
topology=${4:-plain}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p koppeltaal-cli --manifest-path "$root/Cargo.toml"
bin="$root/target/release/koppeltaal"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
# --dir: a replica writes the snapshot of its full sync; into the scratch directory, not here.
plain=(--bind 127.0.0.1 --save "" --appendonly no --dir "$work")
case "$topology" in
plain)
    redis-server --port "$port" "${plain[@]}" > "$work/redis.log" 2>&1 &
    pids+=($!)
    store=(--replay-store "redis://127.0.0.1:$port/")
    ;;
tls)
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${ec[@]}" -keyout "$work/ca.key" -out "$work/ca.pem" -days 1 -subj /CN=load-ca 2>/dev/null
    openssl req "${ec[@]}" -keyout "$work/server.key" -out "$work/server.csr" -subj /CN=127.0.0.1 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\n' > "$work/san.ext"
    openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
        -out "$work/server.pem" -days 1 -extfile "$work/san.ext" 2>/dev/null
    redis-server --port 0 --tls-port "$port" "${plain[@]}" --tls-cert-file "$work/server.pem" \
        --tls-key-file "$work/server.key" --tls-ca-cert-file "$work/ca.pem" --tls-auth-clients no \
        > "$work/redis.log" 2>&1 &
    pids+=($!)
    store=(--replay-store "rediss://127.0.0.1:$port/" --replay-store-ca "$work/ca.pem")
    ;;
sentinel)
    redis-server --port "$port" "${plain[@]}" > "$work/redis.log" 2>&1 &
    pids+=($!)
    replica=$(free_port)
    redis-server --port "$replica" "${plain[@]}" --replicaof 127.0.0.1 "$port" > "$work/replica.log" 2>&1 &
    pids+=($!)
    sentinels=()
    for index in 1 2 3; do
        sentinel=$(free_port)
        printf 'port %s\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 %s 2\nsentinel down-after-milliseconds mymaster 1000\n' \
            "$sentinel" "$port" > "$work/sentinel-$index.conf"
        redis-sentinel "$work/sentinel-$index.conf" > "$work/sentinel-$index.log" 2>&1 &
        pids+=($!)
        sentinels+=("127.0.0.1:$sentinel")
    done
    # The replica in sync, and known to the sentinels: otherwise min-replicas 1 refuses the
    # first launches (and, as they stay recorded, their retries too).
    for _ in $(seq 150); do
        redis-cli -p "$replica" INFO replication 2>/dev/null | grep -q master_link_status:up &&
            redis-cli -p "${sentinels[0]#*:}" SENTINEL replicas mymaster 2>/dev/null | grep -q "$replica" && break
        sleep 0.2
    done
    store=(--replay-store "redis+sentinel://$(IFS=,; echo "${sentinels[*]}")/mymaster" --replay-store-min-replicas 1)
    ;;
*) echo "unknown topology $topology: plain, tls or sentinel" >&2; exit 2 ;;
esac
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
"$bin" keygen --out "$work/portal.pem" >/dev/null
"$bin" jwks --key "$work/portal.pem" > "$work/portal.jwks"
echo "signing $count RS512 launches..."
"$bin" launch --key "$work/portal.pem" --issuer https://portal.example.org --audience Device/42 \
    --sub Practitioner/a5e58253 --resource Task/11 --definition https://module.example.org/AD/1 \
    --count "$count" > "$work/launches.txt"
urls=()
for instance in a b; do
    "$bin" serve --listen 127.0.0.1:0 --jwks "$work/portal.jwks" --issuer https://portal.example.org \
        --audience Device/42 "${store[@]}" 2> "$work/serve-$instance.log" &
    pids+=($!)
    for _ in $(seq 50); do grep -q listening "$work/serve-$instance.log" && break; sleep 0.1; done
    urls+=("$(grep -o 'http://[0-9.:]*' "$work/serve-$instance.log" | head -1)")
done
echo "redis ($topology) on port $port; instances ${urls[*]}"
grep -h "replay store" "$work"/serve-*.log | head -1
for instance in 0 1; do
    LAUNCHES="$work/launches.txt" wrk -t1 -c"$connections" -d"${duration}s" --latency \
        -s "$root/benches/load/launches.lua" "${urls[$instance]}/launch" > "$work/wrk-$instance.txt" &
    pids+=($!)
done
wait "${pids[-1]}" "${pids[-2]}"
for instance in 0 1; do
    echo "--- instance $instance"; grep -E "requests in|Requests/sec|Non-2xx|50%|99%" "$work/wrk-$instance.txt"
done
echo "--- what one new launch costs the store (check_and_record, 5000 new keys, this deployment):"
url=$(printf '%s\n' "${store[@]}" | grep '://')
ca=$(printf '%s\n' "${store[@]}" | grep 'ca.pem' || true)
min=$([ "$topology" = sentinel ] && echo 1 || echo 0)
REDIS_CA="$ca" REDIS_MIN_REPLICAS="$min" cargo run --release -q -p koppeltaal-benches \
    --manifest-path "$root/Cargo.toml" --example replay_store_cost -- "$url" 5000 | grep -E "redis"
accepted=$(cat "$work"/serve-*.log | grep -c 'launch accepted' || true)
echo "accepted across both: $accepted (of $count launches)"
echo "refusals by code:"; cat "$work"/serve-*.log | grep 'launch refused' | grep -o 'code=[0-9]* name=[A-Za-z]*' | sort | uniq -c | sort -rn
