#!/usr/bin/env bash
# Regenerates the firmware's test data with the `koppeltaal` command: an 8-key JWKS (the three
# signing keys and five others, as a portal rotating keys publishes) and launches issued at
# 1700000000. The firmware verifies at 1700000060.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cargo build -q --manifest-path "$root/Cargo.toml" -p koppeltaal-cli
bin="$root/target/debug/koppeltaal"
keys=$(mktemp -d)
trap 'rm -rf "$keys"' EXIT
"$bin" keygen --alg RS512 --bits 2048 --out "$keys/rs2048.pem" >/dev/null
"$bin" keygen --alg RS512 --bits 4096 --out "$keys/rs4096.pem" >/dev/null
"$bin" keygen --alg ES256 --out "$keys/es256.pem" >/dev/null
for n in 1 2 3; do "$bin" keygen --alg RS512 --bits 2048 --out "$keys/old-rsa-$n.pem" >/dev/null; done
"$bin" keygen --alg RS512 --bits 4096 --out "$keys/old-rsa-4.pem" >/dev/null
"$bin" keygen --alg ES256 --out "$keys/old-ec.pem" >/dev/null
"$bin" jwks --key "$keys/rs2048.pem" --key "$keys/rs4096.pem" --key "$keys/es256.pem" \
    --key "$keys/old-rsa-1.pem" --key "$keys/old-rsa-2.pem" --key "$keys/old-rsa-3.pem" \
    --key "$keys/old-rsa-4.pem" --key "$keys/old-ec.pem" > "$here/portal.jwks"
launch() {
    "$bin" launch --key "$1" --issuer https://portal.example.org --audience "$2" \
        --sub Practitioner/a5e58253 --resource Task/11 \
        --definition https://module.example.org/ActivityDefinition/1 --intent plan --now "$3" | tr -d '\n'
}
launch "$keys/rs2048.pem" Device/42 1700000000 > "$here/rs512-2048.jwt"
launch "$keys/rs4096.pem" Device/42 1700000000 > "$here/rs512-4096.jwt"
launch "$keys/es256.pem" Device/42 1700000000 > "$here/es256.jwt"
launch "$keys/rs2048.pem" Device/42 1699990000 > "$here/expired.jwt"
launch "$keys/rs2048.pem" Device/7 1700000000 > "$here/wrong-audience.jwt"
# The payload of one launch under the signature of another by the same key.
other=$(launch "$keys/rs2048.pem" Device/42 1700000001)
genuine=$(cat "$here/rs512-2048.jwt")
printf '%s.%s' "${genuine%.*}" "${other##*.}" > "$here/tampered.jwt"
# An encrypted launch (HTI:jwe, A128CBC-HS256) around another valid one, its content key in the
# clear where a secure element would unwrap it (the firmware simulates the element).
launch "$keys/rs2048.pem" Device/42 1700000000 \
    | cargo run -q --manifest-path "$root/Cargo.toml" -p koppeltaal-core --features rsa-oaep \
        --example firmware_jwe -- A128CBC-HS256 > "$here/encrypted.jwe"
