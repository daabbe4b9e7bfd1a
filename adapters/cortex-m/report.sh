#!/usr/bin/env bash
# The firmware's size and memory report: builds it in each feature variant, runs each in QEMU
# (every verdict must be the expected one), and prints a Markdown table of
#   flash        .text + .rodata (the test data, JWKS and tokens, included; their size is given)
#   static RAM   .data + .bss
#   peak stack   measured by the firmware itself: it paints the free RAM before each step and
#                reads back the deepest word overwritten (src/main.rs), for loading the 8-key
#                JWKS and for verifying each kind of launch
# and the verdict against the targets for the RS512 firmware (flash ≤ 64 KiB, static RAM plus
# the deepest stack ≤ 24 KiB); then the instructions each full check of a valid launch takes,
# counted in QEMU with -icount.
#
#   adapters/cortex-m/report.sh           print the report
#   adapters/cortex-m/report.sh --check   also fail when the RS512 firmware misses a target
#
# Needs qemu-system-arm and arm-none-eabi-size (Debian: qemu-system-arm binutils-arm-none-eabi)
# and the thumbv7em-none-eabihf Rust target.
set -euo pipefail
cd "$(dirname "$0")"
check=false
[[ "${1:-}" == --check ]] && check=true

flash_target=$((64 * 1024))
ram_target=$((24 * 1024))
# features | label; the first is the one the targets are for.
variants=(
    "rs,compact-rsa-keys|RS512, compact RSA keys (default)"
    "rs,compact-rsa-keys,jwe|RS512 + encrypted launches (HTI:jwe)"
    "rs|RS512, keys keep R² mod n"
    "es256|ES256 only"
    "rs,compact-rsa-keys,es256|RS512 + ES256"
    "rs,compact-rsa-keys,es256,es384,es512|every family"
)
elf=target/thumbv7em-none-eabihf/release/koppeltaal-cortex-m-example
test_data=$(cat data/*.jwt data/*.jwks data/*.jwe | wc -c)

section() { # section NAME: its size in bytes, 0 when absent
    arm-none-eabi-size -A "$elf" | awk -v name="$1" '$1 == name { print $2; found = 1 } END { if (!found) print 0 }'
}
stack_of() { # stack_of LABEL OUTPUT: the peak stack of the line starting with LABEL, if accepted
    local line
    line=$(grep -F -- "$1" <<<"$2" | head -1)
    if [[ "$line" == *"refused UnsupportedAlgorithm"* || -z "$line" ]]; then
        echo "—"
    else
        sed -E 's/.*peak stack ([0-9]+) bytes.*/\1/' <<<"$line"
    fi
}
kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

echo "| firmware (features) | flash .text + .rodata | static .data + .bss | stack: load JWKS | stack: RS512 RSA-2048 | stack: RS512 RSA-4096 | stack: ES256 | static + deepest stack |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
verdict=""
failed=false
counts=()
for variant in "${variants[@]}"; do
    features=${variant%%|*}
    label=${variant#*|}
    cargo build -q --locked --release --no-default-features ${features:+--features "$features"}
    if ! output=$(timeout 300 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
        -semihosting-config enable=on,target=native -kernel "$elf" 2>&1); then
        echo "firmware '$label' failed in QEMU:" >&2
        echo "$output" >&2
        exit 1
    fi
    flash=$(($(section .text) + $(section .rodata)))
    static=$(($(section .data) + $(section .bss)))
    setup=$(sed -nE 's/^setup: .*peak stack ([0-9]+) bytes.*/\1/p' <<<"$output")
    deepest=$(sed -nE 's/^deepest verification: ([0-9]+) bytes.*/\1/p' <<<"$output")
    peak=$((setup > deepest ? setup : deepest))
    printf '| %s (`%s`) | %s B (%s KiB) | %s B (%s KiB) | %s | %s | %s | %s | %s B (%s KiB) |\n' \
        "$label" "${features:-none}" "$flash" "$(kib "$flash")" "$static" "$(kib "$static")" \
        "$setup" "$(stack_of "valid RS512, RSA-2048" "$output")" \
        "$(stack_of "valid RS512, RSA-4096" "$output")" "$(stack_of "valid ES256" "$output")" \
        "$((static + peak))" "$(kib $((static + peak)))"
    if [[ -z "$verdict" ]]; then
        flash_ok=$((flash <= flash_target))
        ram_ok=$((static + peak <= ram_target))
        verdict="RS512 firmware against its targets: flash $(kib "$flash") KiB of 64 KiB ($( ((flash_ok)) && echo met || echo MISSED)); static RAM + deepest stack $(kib $((static + peak))) KiB of 24 KiB ($( ((ram_ok)) && echo met || echo MISSED))."
        ((flash_ok && ram_ok)) || failed=true
    fi
    # Instructions per full check, counted exactly: under `-icount shift=3` QEMU advances
    # virtual time 8 ns per instruction, so the 25 MHz SysTick ticks once per 5 instructions;
    # the firmware also times a loop of exactly 2,000,000 instructions, which calibrates it.
    counted=$(timeout 300 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic -icount shift=3 \
        -semihosting-config enable=on,target=native -kernel "$elf" 2>&1) || true
    calibration=$(sed -nE 's/^calibration 2000000 instructions: ([0-9]+) SysTick ticks/\1/p' <<<"$counted")
    instructions() { # instructions LABEL: the calibrated count for the check line of LABEL, or —
        local ticks
        ticks=$(sed -nE "s/^check $1: ([0-9]+) SysTick ticks/\1/p" <<<"$counted")
        if [[ -z "$ticks" || -z "$calibration" ]]; then echo "—"; else echo $((ticks * 2000000 / calibration)); fi
    }
    counts+=("| $label (\`${features:-none}\`) | $(instructions "valid RS512, RSA-2048") | $(instructions "valid RS512, RSA-4096") | $(instructions "valid ES256") |")
done
echo
echo "Instructions per full check of a valid launch (signature and claims; QEMU -icount, calibrated):"
echo
echo "| firmware (features) | RS512 RSA-2048 | RS512 RSA-4096 | ES256 |"
echo "|---|---:|---:|---:|"
printf '%s\n' "${counts[@]}"
echo
echo "Flash includes ${test_data} B of embedded test data (the JWKS and the launch tokens)."
echo "Stack figures are bytes; \"—\" where the family is not compiled in (the token is refused before any signature work)."
echo
echo "$verdict"
if $check && $failed; then
    exit 1
fi
