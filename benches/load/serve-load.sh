#!/usr/bin/env bash
# A bounded load run of `koppeltaal serve` on loopback with wrk (Debian package `wrk`):
# requests per second, non-2xx answers, and the server's memory before and after.
#   benches/load/serve-load.sh [DURATION_SECONDS] [CONNECTIONS] [LAUNCHES]
set -euo pipefail
duration=${1:-20}
connections=${2:-16}
count=${3:-2000}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

# KOPPELTAAL_BIN: another build to measure (an A/B against an older commit's binary).
if [ -n "${KOPPELTAAL_BIN:-}" ]; then
    bin=$KOPPELTAAL_BIN
else
    cargo build --release -q -p koppeltaal-cli --manifest-path "$root/Cargo.toml"
    bin="$root/target/release/koppeltaal"
fi
"$bin" keygen --out "$work/portal.pem" >/dev/null
"$bin" jwks --key "$work/portal.pem" > "$work/portal.jwks"
echo "signing $count RS512 launches..."
"$bin" launch --key "$work/portal.pem" --issuer https://portal.example.org --audience Device/42 \
    --sub Practitioner/a5e58253 --resource Task/11 --definition https://module.example.org/AD/1 \
    --count "$count" > "$work/launches.txt"

"$bin" serve --listen 127.0.0.1:0 --jwks "$work/portal.jwks" --issuer https://portal.example.org \
    --audience Device/42 2> "$work/serve.log" &
server=$!
for _ in $(seq 50); do grep -q listening "$work/serve.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)
rss() { awk '/VmRSS/ {print $2 " " $3}' "/proc/$server/status"; }
echo "server $url, RSS before: $(rss)"
LAUNCHES="$work/launches.txt" wrk -t2 -c"$connections" -d"${duration}s" --latency \
    -s "$root/benches/load/launches.lua" "$url/launch"
echo "RSS after: $(rss)"
echo "accepted: $(grep -c 'launch accepted' "$work/serve.log"), refused: $(grep -c 'launch refused' "$work/serve.log")"
grep 'launch refused' "$work/serve.log" | grep -o 'name=[A-Za-z]*' | sort | uniq -c | sort -rn | head -5
