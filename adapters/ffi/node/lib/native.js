'use strict';
// Finds libkoppeltaal_ffi and declares the C functions through koffi (private to the package).
//
// Where the library comes from, first match wins:
//   1. the KOPPELTAAL_LIB environment variable (a path), for a library built elsewhere;
//   2. native/ in this package, where the install script (scripts/install.js) puts what it built;
//   3. prebuilds/<platform>-<arch>/ in a released package, when this machine can run it
//      (lib/prebuilt.js);
//   4. the koppeltaal-rs checkout this package sits in (target/release, then target/debug).

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');
const { LIBRARY_FILE, findPrebuilt } = require('./prebuilt.js');

const PACKAGE_DIRECTORY = path.resolve(__dirname, '..');

function libraryPath() {
  if (process.env.KOPPELTAAL_LIB) {
    return process.env.KOPPELTAAL_LIB;
  }
  const built = path.join(PACKAGE_DIRECTORY, 'native', LIBRARY_FILE);
  if (fs.existsSync(built)) {
    return built;
  }
  const prebuilt = findPrebuilt(PACKAGE_DIRECTORY);
  if (prebuilt.path !== undefined) {
    return prebuilt.path;
  }
  const checkout = path.resolve(PACKAGE_DIRECTORY, '..', '..', '..');
  const candidates = ['release', 'debug'].map((profile) => path.join(checkout, 'target', profile, LIBRARY_FILE));
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (found === undefined) {
    throw new Error(
      `${LIBRARY_FILE} not found (${prebuilt.reason}): install the package from a koppeltaal-rs ` +
        'checkout (npm install ./adapters/ffi/node builds it), or build it with ' +
        '`cargo build --release -p koppeltaal-ffi`, or set KOPPELTAAL_LIB',
    );
  }
  return found;
}

const LIBRARY_PATH = libraryPath();
const lib = koffi.load(LIBRARY_PATH);
koffi.opaque('koppeltaal_verifier');
// koppeltaal_redis_options of the C header, member for member.
const REDIS_OPTIONS = koffi.struct('koppeltaal_redis_options', {
  struct_size: 'uint32_t',
  min_replicas: 'uint32_t',
  replica_timeout_ms: 'uint32_t',
  check_now: 'uint32_t',
  prefix: 'const char *',
  ca_file: 'const char *',
  cert_file: 'const char *',
  key_file: 'const char *',
  password_file: 'const char *',
});

const OUTPUT = '_Out_ uint8_t *out, size_t cap, _Out_ size_t *len';

const functions = {
  statusMessage: lib.func('const char *koppeltaal_status_message(int32_t status)'),
  statusName: lib.func('const char *koppeltaal_status_name(int32_t status)'),
  verifierNew: lib.func(
    'int32_t koppeltaal_verifier_new(const uint8_t *jwks, size_t jwks_len, const char *issuer, ' +
      'const char *audience, uint32_t replay_capacity, _Out_ koppeltaal_verifier **out)',
  ),
  verifierFree: lib.func('void koppeltaal_verifier_free(koppeltaal_verifier *verifier)'),
  addIssuer: lib.func(
    'int32_t koppeltaal_verifier_add_issuer(koppeltaal_verifier *verifier, const char *issuer, ' +
      'const uint8_t *jwks, size_t jwks_len)',
  ),
  allowAlgorithm: lib.func(
    'int32_t koppeltaal_verifier_allow_algorithm(koppeltaal_verifier *verifier, const char *algorithm)',
  ),
  setLeeway: lib.func('int32_t koppeltaal_verifier_set_leeway(koppeltaal_verifier *verifier, uint64_t seconds)'),
  setMaxLifetime: lib.func(
    'int32_t koppeltaal_verifier_set_max_lifetime(koppeltaal_verifier *verifier, uint64_t seconds)',
  ),
  useRedis: lib.func(
    'int32_t koppeltaal_verifier_use_redis(koppeltaal_verifier *verifier, const char *url, const char *prefix)',
  ),
  useRedisWith: lib.func(
    'int32_t koppeltaal_verifier_use_redis_with(koppeltaal_verifier *verifier, const char *url, ' +
      'const koppeltaal_redis_options *options, _Out_ uint8_t *detail, size_t detail_cap, _Out_ size_t *detail_len)',
  ),
  addDecryptionKey: lib.func(
    'int32_t koppeltaal_verifier_add_decryption_key(koppeltaal_verifier *verifier, const char *pem)',
  ),
  verify: lib.func(
    'int32_t koppeltaal_verify(koppeltaal_verifier *verifier, const uint8_t *token, size_t token_len, ' +
      `uint64_t now, ${OUTPUT})`,
  ),
  generateKey: lib.func(`int32_t koppeltaal_generate_key(const char *algorithm, uint32_t rsa_bits, ${OUTPUT})`),
  jwksFromPem: lib.func(`int32_t koppeltaal_jwks_from_pem(const char *pem, ${OUTPUT})`),
  clientAssertion: lib.func(
    'int32_t koppeltaal_client_assertion(const char *pem, const char *client_id, const char *token_endpoint, ' +
      `uint64_t now, ${OUTPUT})`,
  ),
  encryptLaunch: lib.func(
    'int32_t koppeltaal_encrypt_launch(const char *signed_launch, const char *recipient, ' +
      `const char *key_algorithm, const char *content_encryption, ${OUTPUT})`,
  ),
  launchToken: lib.func(
    'int32_t koppeltaal_launch_token(const char *pem, const char *issuer, const char *audience, ' +
      'const char *subject, const char *resource, const char *definition, const char *patient, ' +
      `const char *intent, uint64_t now, uint64_t lifetime, ${OUTPUT})`,
  ),
};

module.exports = { LIBRARY_PATH, REDIS_OPTIONS_SIZE: koffi.sizeof(REDIS_OPTIONS), functions };
