#!/usr/bin/env bash
# The release artifacts, cross-compiled on an x86-64 Linux host with tools from the package
# registries only (Zig from PyPI as the C cross compiler, cargo-zigbuild from crates.io):
#
#   dist/build.sh [OUT]        (default OUT: target/artifacts)
#
# For each target, a static `koppeltaal` (musl, no dynamic loader needed) and the C ABI as a
# static library, in OUT/koppeltaal-VERSION-TARGET.tar.gz with the header, the systemd unit
# and the licences:
#   x86_64-unknown-linux-musl        servers; default features (RSA-OAEP in AWS-LC)
#   aarch64-unknown-linux-musl       ARM gateways; --no-default-features (no AWS-LC: smaller,
#   armv7-unknown-linux-gnueabihf    and encrypted launches through the `rsa` crate; armv7
#                                    with the UMAAL kernel)
# The armv7 binary is static too, but on glibc (Debian's arm-linux-gnueabihf cross gcc and its
# libc.a): the Rust standard library for armv7-unknown-linux-musleabihf is not on the rustup
# mirror this builds from (404). glibc 2.36 resolves names (files, dns) without loading NSS
# modules, so the static binary needs nothing from the device's libc.
# and OUT/SHA256SUMS over the archives, OUT/koppeltaal-VERSION.cdx.json (a CycloneDX SBOM of
# the command and the C ABI, from cargo-cyclonedx). dist/check.sh checks and runs what this
# made. The `dist` profile is `release` with symbols stripped.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/artifacts}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
tools=$PWD/target/dist-tools

step() { printf '\n--- %s (%s)\n' "$*" "$(date +%T)"; }

step "tools: Zig (PyPI, hash-pinned), cargo-zigbuild and cargo-cyclonedx (crates.io, locked)"
if [ ! -x "$tools/bin/python3" ]; then
    python3 -m venv "$tools"
fi
"$tools/bin/pip" install -q --require-hashes -r dist/requirements.txt
# cargo-zigbuild runs `python3 -m ziglang` when no `zig` is on PATH: the venv's python comes first.
export PATH="$tools/bin:$PATH"
# --debug: they run for seconds; a debug build takes a fraction of a release one.
[ -x "$tools/bin/cargo-zigbuild" ] ||
    cargo install -q --locked --debug --root "$tools" cargo-zigbuild --version 0.24.1
[ -x "$tools/bin/cargo-cyclonedx" ] ||
    cargo install -q --locked --debug --root "$tools" cargo-cyclonedx --version 0.5.9

targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf)
rustup target add "${targets[@]}" >/dev/null
# armv7: Debian's cross compiler links and compiles the C parts (ring), statically.
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS="-C target-feature=+crt-static"
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc
export AR_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-ar

rm -rf "$out"
mkdir -p "$out"
for target in "${targets[@]}"; do
    case $target in
        x86_64-*) features=() ;;
        armv7-*) features=(--no-default-features --features umaal) ;;
        *) features=(--no-default-features) ;;
    esac
    step "$target ${features[*]:-(default features)}"
    # cdylib is not built for a static musl target (Cargo says so and drops it): the C ABI ships
    # as the static library here; the Python and Node packages build their own shared library.
    case $target in
        *-musl*) build=(cargo zigbuild) ;;
        *) build=(cargo build) ;;
    esac
    "${build[@]}" --locked --profile dist --target "$target" \
        -p koppeltaal-cli -p koppeltaal-ffi "${features[@]}"
    built=target/$target/dist
    [ -x "$built/koppeltaal" ] && [ -f "$built/libkoppeltaal_ffi.a" ] ||
        { echo "dist: $target: the build made no binary or library" >&2; exit 1; }
    name=koppeltaal-$version-$target
    stage=$(mktemp -d)
    mkdir -p "$stage/$name/include"
    cp "$built/koppeltaal" "$built/libkoppeltaal_ffi.a" "$stage/$name/"
    cp adapters/ffi/include/koppeltaal.h "$stage/$name/include/"
    cp dist/koppeltaal-serve.service dist/serve.env.example LICENSE-APACHE LICENSE-MIT "$stage/$name/"
    # Reproducible archive metadata: sorted names, fixed owner and time (the commit's).
    stamp=$(git log -1 --format=%ct 2>/dev/null || echo 0)
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$stamp" \
        -C "$stage" -cf - "$name" | gzip -n -9 > "$out/$name.tar.gz"
    rm -rf "$stage"
done

step "SBOM (CycloneDX) of the command and the C ABI"
# The x86-64 archive's dependencies (default features); the ARM ones are a subset (no AWS-LC).
# cargo-cyclonedx writes one file beside each workspace member's Cargo.toml: the command's and
# the C ABI's are merged, and every one is removed again.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0) \
    cargo cyclonedx --format json --spec-version 1.5 --target x86_64-unknown-linux-musl \
    --manifest-path adapters/cli/Cargo.toml >/dev/null
python3 - "$out/koppeltaal-$version.cdx.json" adapters/cli/koppeltaal-cli.cdx.json \
    adapters/ffi/koppeltaal-ffi.cdx.json <<'PY'
import json, sys
# One document: the command's BOM, with the C ABI's components and dependencies merged in.
out, *parts = sys.argv[1:]
boms = [json.load(open(path)) for path in parts]
merged = boms[0]
seen = {c["bom-ref"] for c in merged.get("components", [])}
for bom in boms[1:]:
    merged.setdefault("components", []).append(bom["metadata"]["component"])
    for component in bom.get("components", []):
        if component["bom-ref"] not in seen:
            merged["components"].append(component)
            seen.add(component["bom-ref"])
    merged.setdefault("dependencies", []).extend(bom.get("dependencies", []))
json.dump(merged, open(out, "w"), indent=1)
PY
find . -name '*.cdx.json' -not -path './target/*' -delete

step "SHA256SUMS"
(cd "$out" && sha256sum -- *.tar.gz *.cdx.json > SHA256SUMS && cat SHA256SUMS)
