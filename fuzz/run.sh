#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, one after another, on the seed corpora (and the
# corpus grown by earlier runs, in fuzz/corpus, which git ignores). Fails on any crash, panic,
# timeout or out-of-memory (libFuzzer exits non-zero and leaves the input in fuzz/artifacts).
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET ...]
# FUZZ_QUICK_BUILD=1 (what CI sets) builds without AddressSanitizer and with 16 codegen units:
# minutes less to compile for a one-minute run; crashes, panics, timeouts and OOM are still
# caught (the core forbids unsafe code; the kernel's assembly is outside ASan's view either
# way, and the kernels target compares it with the portable kernel). Long local runs keep
# the default, ASan and one unit.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(compact jwks verify claims form rsa_differential jwe kernels http_request)
build_args=(-O)
[ "${FUZZ_QUICK_BUILD:-0}" = 1 ] && build_args+=(--sanitizer none --codegen-units 16)
cargo +nightly fuzz build "${build_args[@]}"
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "=== fuzz $target for ${seconds}s"
    cargo +nightly fuzz run "${build_args[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
        | grep -E "^(#[0-9]+ +DONE|Done|stat::|==[0-9]+==|SUMMARY|thread .* panicked|Test unit written)" || true
    # grep swallowed the exit status of the pipeline's first command: check it.
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz target $target failed"; exit 1; }
done
