#!/usr/bin/env bash
# Screenshots of the gateway's refusal page in Dutch and English, for the README: a launch
# accepted once, then replayed, the refusal page saved and rendered by headless Chromium
# (Debian's `chromium`).
#   docs/screenshots.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build -q -p koppeltaal-cli --manifest-path "$root/Cargo.toml"
bin="$root/target/debug/koppeltaal"
"$bin" keygen --out "$work/portal.pem" >/dev/null
"$bin" jwks --key "$work/portal.pem" > "$work/portal.jwks"
"$bin" serve --listen 127.0.0.1:0 --jwks "$work/portal.jwks" --issuer https://portal.example.org \
    --audience Device/42 2> "$work/serve.log" &
server=$!
for _ in $(seq 50); do grep -q listening "$work/serve.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)
token=$("$bin" launch --key "$work/portal.pem" --issuer https://portal.example.org \
    --audience Device/42 --sub Patient/1 --resource Task/11 --definition https://m.example/AD/1)
curl -s -o /dev/null --data "token=$token" "$url/launch"
for language in nl en; do
    curl -s -H "Accept-Language: $language" --data "token=$token" "$url/launch" > "$work/refused-$language.html"
    chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --user-data-dir="$work/chromium" \
        --window-size=820,260 --screenshot="$root/docs/refusal-$language.png" \
        "file://$work/refused-$language.html" 2>/dev/null
done
echo "docs/refusal-nl.png docs/refusal-en.png"
