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
#   statically against the aarch64 library, verifying a launch;
# - the Python wheels: manylinux_2_17 tags (file name and WHEEL), the library's machine, its
#   glibc symbol versions (2.17 at most) and what it links; the x86_64 wheel installed into a
#   fresh environment passes the Python tests; the aarch64 wheel's library runs the C example
#   (linked against it dynamically) under qemu-aarch64 with Debian's arm64 glibc;
# - the npm package: both prebuilds, the same files as the wheels' (and as the C library
#   archives for glibc systems); installed into a fresh project (no cargo to build with), it
#   loads its linux-x64 prebuild and runs the README example.
# Each emulated run is bounded (60 s to start, 240 s for the probe).
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(realpath "${1:-target/artifacts}")
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

step "Python wheels: manylinux_2_17 tags, the library's machine, glibc symbol versions, links"
declare -A wheel_machine=([x86_64]="x86-64" [aarch64]="ARM aarch64")
for arch in "${!wheel_machine[@]}"; do
    wheel=$out/koppeltaal-$version-py3-none-manylinux2014_$arch.manylinux_2_17_$arch.whl
    [ -f "$wheel" ] || fail "no manylinux2014 $arch wheel: $(ls "$out")"
    mkdir -p "$work/wheel-$arch"
    python3 - "$wheel" "$work/wheel-$arch" "$arch" <<'PY'
import sys, zipfile
wheel, into, arch = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
    meta = next(n for n in names if n.endswith(".dist-info/WHEEL"))
    tags = sorted(line.split(": ", 1)[1] for line in archive.read(meta).decode().splitlines()
                  if line.startswith("Tag: "))
    expected = sorted([f"py3-none-manylinux2014_{arch}", f"py3-none-manylinux_2_17_{arch}"])
    assert tags == expected, f"WHEEL tags {tags}, expected {expected}"
    assert "Root-Is-Purelib: false" in archive.read(meta).decode(), "a pure wheel"
    libraries = [n for n in names if n.endswith(".so") or ".so." in n]
    # auditwheel grafts nothing: the library needs only glibc.
    assert libraries == ["koppeltaal/libkoppeltaal_ffi.so"], f"libraries: {libraries}"
    archive.extract(libraries[0], into)
print(f"{wheel.rsplit('/', 1)[1]}: tags {', '.join(tags)}")
PY
    library=$work/wheel-$arch/koppeltaal/libkoppeltaal_ffi.so
    description=$(file -b "$library")
    echo "  library: $description"
    [[ $description == *"shared object"*"${wheel_machine[$arch]}"* ]] ||
        fail "$arch wheel: not a ${wheel_machine[$arch]} shared library"
    newest=$(readelf -V -W "$library" | grep -o 'GLIBC_[0-9.]*' | sort -V -u | tail -1)
    echo "  newest glibc symbol version: $newest"
    [ "$(printf '%s\nGLIBC_2.17\n' "$newest" | sort -V | tail -1)" = GLIBC_2.17 ] ||
        fail "$arch wheel: needs $newest, newer than manylinux2014's GLIBC_2.17"
    needed=$(readelf -d -W "$library" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
    echo "  links: $needed"
    for soname in $needed; do
        case $soname in
            libc.so.6 | libpthread.so.0 | libdl.so.2 | libm.so.6 | librt.so.1 | ld-linux-*) ;;
            *) fail "$arch wheel: links $soname, which manylinux does not provide" ;;
        esac
    done
done

step "the x86_64 wheel installed into a fresh environment: the Python tests against it"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --no-index \
    "$out/koppeltaal-$version-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
"$work/venv/bin/pip" install -q --require-hashes -r adapters/ffi/python/requirements-test.txt
installed=$("$work/venv/bin/python" -c 'import koppeltaal; print(koppeltaal.LIBRARY_PATH)')
cmp "$installed" "$work/wheel-x86_64/koppeltaal/libkoppeltaal_ffi.so" ||
    fail "the installed package loads $installed, not the wheel's library"
# From the scratch directory, so that `import koppeltaal` cannot find the source tree.
tests=$PWD/adapters/ffi/python/tests
(cd "$work" && KOPPELTAAL_TEST_INSTALLED=1 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$tests")

step "the aarch64 wheel's library runs the C example under qemu-aarch64 (Debian's arm64 glibc)"
wheel_lib=$work/wheel-aarch64/koppeltaal
aarch64-linux-gnu-gcc -std=c11 -O2 -Wall -Wextra -Werror -I adapters/ffi/include adapters/ffi/examples/verify.c \
    -L "$wheel_lib" -lkoppeltaal_ffi -Wl,-rpath,"$wheel_lib" -o "$work/verify-aarch64-shared"
verdict=$(timeout 60 qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/verify-aarch64-shared" \
    "$work/portal.jwks" "$issuer" "$audience" "$work/launch.jwt")
echo "$verdict"
[[ $verdict == *'"Task/11"'* ]] || fail "the C example did not print the launch with the aarch64 wheel's library"

step "npm package: its prebuilds, installed into a fresh project with no cargo"
package=$out/koppeltaal-$version.tgz
mkdir -p "$work/npm-package"
tar -xzf "$package" -C "$work/npm-package"
for pair in x64:x86_64 arm64:aarch64; do
    prebuild=$work/npm-package/package/prebuilds/linux-${pair%%:*}/libkoppeltaal_ffi.so
    cmp "$prebuild" "$work/wheel-${pair##*:}/koppeltaal/libkoppeltaal_ffi.so" ||
        fail "the npm linux-${pair%%:*} prebuild differs from the ${pair##*:} wheel's library"
    echo "linux-${pair%%:*}: $(stat -c %s "$prebuild") bytes, the ${pair##*:} wheel's library"
done
for arch in x86_64 aarch64; do
    name=libkoppeltaal_ffi-$version-$arch-linux-gnu
    tar -xzf "$out/$name.tar.gz" -C "$work"
    cmp "$work/$name/libkoppeltaal_ffi.so" "$work/wheel-$arch/koppeltaal/libkoppeltaal_ffi.so" ||
        fail "$name.tar.gz: its library differs from the $arch wheel's"
    [ -f "$work/$name/include/koppeltaal.h" ] || fail "$name.tar.gz: no header"
    echo "$name.tar.gz: the $arch wheel's library and the header"
done
[ ! -e "$work/npm-package/package/native" ] || fail "the npm package carries a native/ build"
app=$work/npm-app
mkdir -p "$app"
(cd "$app" && npm init -y >/dev/null &&
    CARGO=/nonexistent/cargo npm install --no-audit --no-fund --foreground-scripts "$package" 2>&1 |
    tee "$work/npm-install.log" | grep 'koppeltaal:' || true)
grep -q 'using the prebuilt library prebuilds/linux-x64/libkoppeltaal_ffi.so' "$work/npm-install.log" ||
    { cat "$work/npm-install.log"; fail "the npm install did not use its linux-x64 prebuild"; }
cp adapters/ffi/node/examples/replay.mjs "$app/"
loaded=$(cd "$app" && node -p "require('koppeltaal').LIBRARY_PATH")
[[ $loaded == "$app/node_modules/koppeltaal/prebuilds/linux-x64/libkoppeltaal_ffi.so" ]] ||
    fail "the npm package loads $loaded, not its prebuild"
printed=$(cd "$app" && node replay.mjs)
echo "$printed"
[ "$printed" = $'Task/11\n600 Replayed' ] || fail "the README's Node example printed: $printed"

echo
echo "dist check: all passed"
