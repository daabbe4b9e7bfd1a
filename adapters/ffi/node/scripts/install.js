'use strict';
// npm's install step for this package. A released package (dist/build.sh packs it) carries
// prebuilt libraries in prebuilds/<platform>-<arch>/: when one runs here, nothing is built.
// Otherwise, from a koppeltaal-rs checkout (`npm install ./adapters/ffi/node`), it builds
// libkoppeltaal_ffi with cargo and copies it into native/.
//
// npm links a local directory rather than copying it, and does not install a linked package's
// own dependencies: so when koffi cannot be resolved from here, this installs it first, from
// this package's lockfile.
//
// Environment:
//   KOPPELTAAL_CARGO_PROFILE  cargo profile to build (default "release"; CI uses "test")
//   KOPPELTAAL_LIB            use this library at run time instead; nothing is built
//   KOPPELTAAL_BUILD          "1": build from the checkout even when a prebuilt library fits
//   CARGO                     the cargo binary (default "cargo")

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { LIBRARY_FILE, findPrebuilt } = require('../lib/prebuilt.js');

const PACKAGE_DIRECTORY = path.resolve(__dirname, '..');
// Where cargo puts a profile's artifacts: the built-in profiles share directories.
const PROFILE_DIRECTORY = { dev: 'debug', test: 'debug', bench: 'release' };

function log(message) {
  process.stderr.write(`koppeltaal: ${message}\n`);
}

function ensureKoffi() {
  try {
    require.resolve('koffi', { paths: [PACKAGE_DIRECTORY] });
    return;
  } catch {
    log('installing koffi from the package lockfile (npm does not for a linked directory)');
  }
  const npm = process.env.npm_execpath;
  const [command, prefix] = npm ? [process.execPath, [npm]] : ['npm', []];
  execFileSync(command, [...prefix, 'ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: PACKAGE_DIRECTORY,
    stdio: 'inherit',
  });
}

function workspaceRoot() {
  const root = path.resolve(PACKAGE_DIRECTORY, '..', '..', '..');
  const isCheckout =
    fs.existsSync(path.join(root, 'Cargo.toml')) && fs.existsSync(path.join(root, 'adapters', 'ffi', 'Cargo.toml'));
  return isCheckout ? root : null;
}

function buildLibrary(root) {
  const cargo = process.env.CARGO || 'cargo';
  const profile = process.env.KOPPELTAAL_CARGO_PROFILE || 'release';
  const args = ['build', '--locked', '--profile', profile, '-p', 'koppeltaal-ffi'];
  log(`${cargo} ${args.join(' ')}`);
  execFileSync(cargo, args, { cwd: root, stdio: 'inherit' });
  const metadata = JSON.parse(
    execFileSync(cargo, ['metadata', '--format-version', '1', '--no-deps', '--locked'], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    }),
  );
  const built = path.join(metadata.target_directory, PROFILE_DIRECTORY[profile] ?? profile, LIBRARY_FILE);
  const native = path.join(PACKAGE_DIRECTORY, 'native');
  fs.mkdirSync(native, { recursive: true });
  fs.copyFileSync(built, path.join(native, LIBRARY_FILE));
  log(`installed ${path.join(native, LIBRARY_FILE)}`);
}

function main() {
  ensureKoffi();
  if (process.env.KOPPELTAAL_LIB) {
    log(`KOPPELTAAL_LIB is set: using ${process.env.KOPPELTAAL_LIB}, building nothing`);
    return;
  }
  const prebuilt = findPrebuilt(PACKAGE_DIRECTORY);
  if (prebuilt.path !== undefined && process.env.KOPPELTAAL_BUILD !== '1') {
    log(`using the prebuilt library ${path.relative(PACKAGE_DIRECTORY, prebuilt.path)}, building nothing`);
    return;
  }
  const root = workspaceRoot();
  if (root !== null) {
    if (prebuilt.path === undefined) {
      log(`building the library: ${prebuilt.reason}`);
    }
    buildLibrary(root);
  } else if (fs.existsSync(path.join(PACKAGE_DIRECTORY, 'native', LIBRARY_FILE))) {
    log('using the library packed into native/');
  } else {
    log(
      `${prebuilt.reason}, and not in a koppeltaal-rs checkout to build one: set KOPPELTAAL_LIB, ` +
        'or install from a checkout',
    );
    process.exitCode = 1;
  }
}

main();
