'use strict';
// The prebuilt libraries a released package carries, in prebuilds/<platform>-<arch>/ (dist/build.sh
// puts linux-x64 and linux-arm64 there, built against glibc 2.17). A checkout has none: it
// builds the library with cargo instead (scripts/install.js).

const fs = require('node:fs');
const path = require('node:path');

const LIBRARY_FILE =
  { darwin: 'libkoppeltaal_ffi.dylib', win32: 'koppeltaal_ffi.dll' }[process.platform] ?? 'libkoppeltaal_ffi.so';
// The oldest glibc the prebuilt Linux libraries run on (their newest symbol version).
const MINIMUM_GLIBC = [2, 17];

/** The glibc version of this process as [major, minor], or null on musl or another libc. */
function glibcVersion() {
  if (process.platform !== 'linux') {
    return null;
  }
  const reported = process.report?.getReport?.()?.header?.glibcVersionRuntime;
  if (typeof reported !== 'string') {
    return null;
  }
  const [major, minor] = reported.split('.').map(Number);
  return Number.isInteger(major) && Number.isInteger(minor) ? [major, minor] : null;
}

/**
 * The prebuilt library for this machine in `packageDirectory`, as `{ path }`, or `{ reason }`
 * saying why there is none (no prebuilds at all, none for this platform, a libc it cannot run on).
 */
function findPrebuilt(packageDirectory) {
  const prebuilds = path.join(packageDirectory, 'prebuilds');
  if (!fs.existsSync(prebuilds)) {
    return { reason: 'the package carries no prebuilt libraries' };
  }
  const key = `${process.platform}-${process.arch}`;
  const candidate = path.join(prebuilds, key, LIBRARY_FILE);
  if (!fs.existsSync(candidate)) {
    const carried = fs.readdirSync(prebuilds).sort().join(', ');
    return { reason: `no prebuilt library for ${key} (the package carries ${carried || 'none'})` };
  }
  if (process.platform === 'linux') {
    const glibc = glibcVersion();
    if (glibc === null) {
      return { reason: `the prebuilt ${key} library needs glibc, and this is not a glibc system (musl?)` };
    }
    const [major, minor] = glibc;
    const [needMajor, needMinor] = MINIMUM_GLIBC;
    if (major < needMajor || (major === needMajor && minor < needMinor)) {
      return { reason: `the prebuilt ${key} library needs glibc ${needMajor}.${needMinor}, this is ${major}.${minor}` };
    }
  }
  return { path: candidate };
}

module.exports = { LIBRARY_FILE, findPrebuilt };
