#!/usr/bin/env bash
# Checks what dist/build.sh made, and runs it:
#
#   dist/check.sh [OUT] [NATIVE_KOPPELTAAL]   (defaults: target/artifacts, target/debug/koppeltaal)
#
# - the archives against SHA256SUMS; each binary a static ELF for its machine (`file`); the
#   static library non-empty; the SBOM a CycloneDX 1.5 document naming our crates;
# - the systemd unit (`systemd-analyze verify`, and `security` at exposure 2.0 or less);
# - under emulation (qemu-user): `koppeltaal serve` for aarch64 and for armv7, each probed by
#   the native `koppeltaal probe`, which must pass all 19 lines; and the C example, linked
#   statically against the aarch64 library, verifying a launch.
# Each emulated run is bounded (60 s to start, 240 s for the probe).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/artifacts}
native=$(realpath "${2:-target/debug/koppeltaal}")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
export PATH="$PWD/target/dist-tools/bin:$PATH"
issuer=https://portal.example.org
audience=Device/42

step() { printf '\n--- %s (%s)\n' "$*" "$(date +%T)"; }
fail() { echo "dist check: $*" >&2; exit 1; }

# shellcheck source=dist/lib.sh
. dist/lib.sh

step "SHA256SUMS"
(cd "$out" && sha256sum --check --strict SHA256SUMS)

step "archives: a static binary for each machine, the static library, the header"
declare -A machine=(
    [x86_64-unknown-linux-musl]="x86-64"
    [aarch64-unknown-linux-musl]="ARM aarch64"
    [armv7-unknown-linux-gnueabihf]="ARM, EABI5"
)
for target in "${!machine[@]}"; do
    name=koppeltaal-$version-$target
    tar -xzf "$out/$name.tar.gz" -C "$work"
    dir=$work/$name
    description=$(file -b "$dir/koppeltaal")
    echo "$target: $description"
    [[ $description == *"${machine[$target]}"* ]] || fail "$target: not a ${machine[$target]} binary"
    [[ $description == *"statically linked"* || $description == *"static-pie linked"* ]] ||
        fail "$target: not statically linked"
    [[ $description == *"stripped"* && $description != *"not stripped"* ]] || fail "$target: not stripped"
    members=$(ar t "$dir/libkoppeltaal_ffi.a" | wc -l)
    [ "$members" -gt 0 ] || fail "$target: empty static library"
    for file in include/koppeltaal.h koppeltaal-serve.service serve.env.example LICENSE-APACHE LICENSE-MIT; do
        [ -f "$dir/$file" ] || fail "$target: $file missing"
    done
    printf '%s: koppeltaal %s bytes, libkoppeltaal_ffi.a %s bytes (%s objects)\n' "$target" \
        "$(stat -c %s "$dir/koppeltaal")" "$(stat -c %s "$dir/libkoppeltaal_ffi.a")" "$members"
done

step "SBOM"
python3 - "$out/koppeltaal-$version.cdx.json" <<'PY'
import json, sys
bom = json.load(open(sys.argv[1]))
assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5", "not CycloneDX 1.5"
names = {c["name"] for c in bom["components"]}
for crate in ["koppeltaal-core", "koppeltaal-kernel", "koppeltaal-host", "koppeltaal-gateway",
              "koppeltaal-ffi", "rustls", "ring", "rsa", "p256"]:
    assert crate in names, f"{crate} missing from the SBOM"
missing = [c["name"] for c in bom["components"] if not c.get("purl") or not c.get("version")]
assert not missing, f"components without purl or version: {missing[:5]}"
print(f"{bom['metadata']['component']['name']}: {len(bom['components'])} components, each with a purl")
PY

step "systemd unit"
unit=$work/koppeltaal-serve.service
sed "s#/usr/local/bin/koppeltaal#$work/koppeltaal-$version-x86_64-unknown-linux-musl/koppeltaal#" \
    dist/koppeltaal-serve.service > "$unit"
systemd-analyze verify "$unit"
systemd-analyze security --offline=yes --threshold=20 "$unit" | tail -1

step "under emulation: serve on aarch64 and armv7, probed from the host"
"$native" keygen --out "$work/portal.pem" >/dev/null
"$native" jwks --key "$work/portal.pem" > "$work/portal.jwks"
for target in aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf; do
    case $target in aarch64-*) runner=qemu-aarch64 ;; *) runner=qemu-arm ;; esac
    start_serve "$work/serve-$target.log" \
        "$runner" "$work/koppeltaal-$version-$target/koppeltaal" serve --listen 127.0.0.1:0 \
        --jwks "$work/portal.jwks" --issuer "$issuer" --audience "$audience"
    probe=$work/probe-$target.txt
    status=0
    timeout 240 "$native" probe --launch-url "$serve_base/launch" --key "$work/portal.pem" \
        --issuer "$issuer" --audience "$audience" > "$probe" || status=$?
    passed=$(grep -c '^pass ' "$probe" || true)
    echo "$target under $runner: probe exit $status, $passed lines pass; $(tail -1 "$probe")"
    [ "$status" -eq 0 ] && [ "$passed" -eq 19 ] || { cat "$probe"; fail "$target: the probe failed"; }
    stop_serve
done

step "the C example, linked statically for aarch64, verifies a launch under qemu-aarch64"
# -lunwind: Rust's standard library on musl needs an unwinder from the final link (Zig has one).
aarch64=$work/koppeltaal-$version-aarch64-unknown-linux-musl
python3 -m ziglang cc -target aarch64-linux-musl -static -O2 -std=c11 -Wall -Wextra -Werror \
    -I "$aarch64/include" adapters/ffi/examples/verify.c "$aarch64/libkoppeltaal_ffi.a" \
    -lunwind -o "$work/verify-aarch64"
file -b "$work/verify-aarch64"
"$native" launch --key "$work/portal.pem" --issuer "$issuer" --audience "$audience" \
    --sub Patient/1 --resource Task/11 --definition https://m.example/AD/1 > "$work/launch.jwt"
verdict=$(timeout 60 qemu-aarch64 "$work/verify-aarch64" "$work/portal.jwks" "$issuer" "$audience" "$work/launch.jwt")
echo "$verdict"
[[ $verdict == *'"Task/11"'* ]] || fail "the aarch64 C example did not print the launch"

echo
echo "dist check: all passed"
