#!/usr/bin/env bash
# The budgets of BENCHMARKS.md ("On an ARM gateway"), measured on what dist/build.sh made:
#
#   dist/budgets.sh [OUT] [NATIVE_KOPPELTAAL]   (defaults: target/artifacts, target/debug/koppeltaal)
#
# - the size of each static binary and library;
# - the peak RSS (VmHWM) of `koppeltaal serve` with a 65 536-entry replay store, idle and after
#   1 000 accepted launches (posted over one keep-alive connection): the x86-64 binary natively,
#   the aarch64 one under qemu-aarch64, whose figure includes QEMU itself, so QEMU running the
#   same binary's `--version` is measured too and subtracted.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/artifacts}
native=$(realpath "${2:-target/debug/koppeltaal}")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
issuer=https://portal.example.org
audience=Device/42
# shellcheck source=dist/lib.sh
. dist/lib.sh

echo "| target | koppeltaal (stripped, static) | libkoppeltaal_ffi.a |"
echo "|---|---:|---:|"
for archive in "$out"/koppeltaal-"$version"-*.tar.gz; do
    tar -xzf "$archive" -C "$work"
    name=$(basename "$archive" .tar.gz)
    target=${name#koppeltaal-"$version"-}
    printf '| %s | %s | %s |\n' "$target" \
        "$(numfmt --to=iec-i --suffix=B --format=%.2f "$(stat -c %s "$work/$name/koppeltaal")")" \
        "$(numfmt --to=iec-i --suffix=B --format=%.2f "$(stat -c %s "$work/$name/libkoppeltaal_ffi.a")")"
done

"$native" keygen --out "$work/portal.pem" >/dev/null
"$native" jwks --key "$work/portal.pem" > "$work/portal.jwks"

peak_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

post_launches() {
    python3 - "$1" "$2" <<'PY'
import http.client, sys, urllib.parse
base, tokens = sys.argv[1], open(sys.argv[2]).read().split()
host = urllib.parse.urlsplit(base)
connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
accepted = 0
for token in tokens:
    connection.request("POST", "/launch", body="token=" + token,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    response.read()
    accepted += response.status == 200
    if response.getheader("Connection", "").lower() == "close":
        connection.close()
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
assert accepted == len(tokens), f"{accepted} of {len(tokens)} launches accepted"
PY
}

echo
echo "| serve (65 536-entry replay store) | idle | after 1 000 launches |"
echo "|---|---:|---:|"
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
    binary=$work/koppeltaal-$version-$target/koppeltaal
    runner=()
    label="$target, native"
    if [[ $target == aarch64-* ]]; then
        runner=(qemu-aarch64)
        /usr/bin/time -f %M -o "$work/qemu-baseline" qemu-aarch64 "$binary" --version >/dev/null
        label="$target, under qemu-aarch64"
    fi
    start_serve "$work/serve.log" \
        "${runner[@]}" "$binary" serve --listen 127.0.0.1:0 --replay-capacity 65536 \
        --jwks "$work/portal.jwks" --issuer "$issuer" --audience "$audience"
    sleep 1
    idle=$(peak_kib "$serve_pid")
    "$native" launch --key "$work/portal.pem" --issuer "$issuer" --audience "$audience" \
        --sub Patient/1 --resource Task/11 --definition https://m.example/AD/1 --count 1000 \
        > "$work/tokens"
    post_launches "$serve_base" "$work/tokens"
    loaded=$(peak_kib "$serve_pid")
    stop_serve
    if [ ${#runner[@]} -eq 0 ]; then
        printf '| %s | %s KiB | %s KiB |\n' "$label" "$idle" "$loaded"
    else
        baseline=$(cat "$work/qemu-baseline")
        printf '| %s (QEMU running `--version`: %s KiB) | %s KiB (%s without it) | %s KiB (%s without it) |\n' \
            "$label" "$baseline" "$idle" "$((idle - baseline))" "$loaded" "$((loaded - baseline))"
    fi
done
