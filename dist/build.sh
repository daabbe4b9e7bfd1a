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
#
# Then the packages over the C ABI, with libkoppeltaal_ffi.so built for x86_64 and aarch64
# against glibc 2.17 (Zig's `.2.17` targets; default features):
#   OUT/koppeltaal-VERSION-py3-none-manylinux2014_{x86_64,aarch64}...whl  (auditwheel repair)
#   OUT/koppeltaal-VERSION.tgz    the npm package, both libraries in prebuilds/linux-{x64,arm64}/
#   OUT/libkoppeltaal_ffi-VERSION-{x86_64,aarch64}-linux-gnu.tar.gz   the same library with the
#                                 header, for C programs on glibc systems
# and OUT/SHA256SUMS over all of it, OUT/koppeltaal-VERSION.cdx.json (a CycloneDX SBOM of
# the command and the C ABI, from cargo-cyclonedx). dist/check.sh checks and runs what this
# made. The `dist` profile is `release` with symbols stripped.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/artifacts}
stamp=$(git log -1 --format=%ct 2>/dev/null || echo 0)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
tools=$PWD/target/dist-tools

step() { printf '\n--- %s (%s)\n' "$*" "$(date +%T)"; }

# archive STAGE NAME: OUT/NAME.tar.gz of STAGE/NAME, reproducibly (sorted names, fixed owner,
# the commit's time), and STAGE removed.
archive() {
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$stamp" \
        -C "$1" -cf - "$2" | gzip -n -9 > "$out/$2.tar.gz"
    rm -rf "$1"
}

step "tools: Zig and auditwheel (PyPI, hash-pinned), cargo-zigbuild and cargo-cyclonedx (crates.io, locked)"
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
# The shared library of the Python and Node packages: glibc 2.17 is manylinux2014's.
shared_targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
rustup target add "${targets[@]}" "${shared_targets[@]}" >/dev/null
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
    # as the static library here; the shared library is built against glibc 2.17 below.
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
    cp "$built/koppeltaal" "$stage/$name/"
    # The static library without its debug sections (the standard library's and the
    # dependencies'; the `dist` profile strips only what it links): about a fifth less to
    # download. The target's own binutils: Debian's cross packages for the Arm ones.
    case $target in
        aarch64-*) strip_tool=aarch64-linux-gnu-strip ;;
        armv7-*) strip_tool=arm-linux-gnueabihf-strip ;;
        *) strip_tool=strip ;;
    esac
    "$strip_tool" --strip-debug -o "$stage/$name/libkoppeltaal_ffi.a" "$built/libkoppeltaal_ffi.a"
    cp adapters/ffi/include/koppeltaal.h "$stage/$name/include/"
    cp dist/koppeltaal-serve.service dist/serve.env.example LICENSE-APACHE LICENSE-MIT "$stage/$name/"
    archive "$stage" "$name"
done

npm_stage=$(mktemp -d)
cp -r adapters/ffi/node "$npm_stage/package"
# What a checkout's install left behind is not part of the package.
rm -rf "$npm_stage/package/node_modules" "$npm_stage/package/native" "$npm_stage/package/prebuilds"
for target in "${shared_targets[@]}"; do
    step "libkoppeltaal_ffi.so for $target, glibc 2.17: Python wheel and npm prebuild"
    cargo zigbuild --locked --profile dist --target "$target.2.17" -p koppeltaal-ffi
    library=target/$target/dist/libkoppeltaal_ffi.so
    [ -f "$library" ] || { echo "dist: $target: the build made no shared library" >&2; exit 1; }
    arch=${target%%-*}
    # The wheel, tagged linux_<arch> by setup.py, then given its manylinux tag by auditwheel:
    # `--plat auto` is the most compatible tag the library's symbol versions allow (checked by
    # dist/check.sh), and works for another architecture than the host's.
    wheel_stage=$(mktemp -d)
    cp -r adapters/ffi/python "$wheel_stage/python"
    rm -rf "$wheel_stage/python/build" "$wheel_stage/python"/*.egg-info
    SOURCE_DATE_EPOCH=$stamp KOPPELTAAL_PREBUILT_LIB=$PWD/$library KOPPELTAAL_WHEEL_PLATFORM=linux_$arch \
        pip wheel -q --no-deps --no-build-isolation -w "$wheel_stage/wheel" "$wheel_stage/python"
    SOURCE_DATE_EPOCH=$stamp auditwheel repair --plat auto -w "$out" "$wheel_stage"/wheel/*.whl \
        > "$wheel_stage/auditwheel.log" 2>&1 || { cat "$wheel_stage/auditwheel.log" >&2; exit 1; }
    grep -i 'new wheel info tags\|written' "$wheel_stage/auditwheel.log"
    rm -rf "$wheel_stage"
    case $arch in
        x86_64) node_arch=x64 ;;
        aarch64) node_arch=arm64 ;;
    esac
    mkdir -p "$npm_stage/package/prebuilds/linux-$node_arch"
    cp "$library" "$npm_stage/package/prebuilds/linux-$node_arch/"
    name=libkoppeltaal_ffi-$version-$arch-linux-gnu
    stage=$(mktemp -d)
    mkdir -p "$stage/$name/include"
    cp "$library" LICENSE-APACHE LICENSE-MIT "$stage/$name/"
    cp adapters/ffi/include/koppeltaal.h "$stage/$name/include/"
    archive "$stage" "$name"
done
ls "$out"/*-manylinux*.whl >/dev/null || { echo "dist: auditwheel wrote no manylinux wheel" >&2; exit 1; }

step "npm package with prebuilt libraries for linux-x64 and linux-arm64"
# npm pack sets every file's time and owner itself (reproducible).
out_directory=$(cd "$out" && pwd)
(cd "$npm_stage/package" && npm pack --silent --pack-destination "$out_directory" >/dev/null)
rm -rf "$npm_stage"
ls "$out/koppeltaal-$version.tgz" >/dev/null

step "SBOM (CycloneDX) of the command and the C ABI"
# The x86-64 archive's dependencies (default features); the ARM ones are a subset (no AWS-LC).
# cargo-cyclonedx writes one file beside each workspace member's Cargo.toml: the command's and
# the C ABI's are merged, and every one is removed again.
SOURCE_DATE_EPOCH=$stamp \
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
(cd "$out" && sha256sum -- *.tar.gz *.whl *.tgz *.cdx.json > SHA256SUMS && cat SHA256SUMS)
