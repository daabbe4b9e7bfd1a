'use strict';
// Which prebuilt library a released package uses (lib/prebuilt.js), on a package directory made here.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');

const { LIBRARY_FILE, findPrebuilt } = require('../lib/prebuilt.js');

function packageWith(platforms) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'koppeltaal-prebuilt-'));
  for (const platform of platforms) {
    fs.mkdirSync(path.join(directory, 'prebuilds', platform), { recursive: true });
    fs.writeFileSync(path.join(directory, 'prebuilds', platform, LIBRARY_FILE), '');
  }
  return directory;
}

const HERE = `${process.platform}-${process.arch}`;
const onGlibc = typeof process.report.getReport().header.glibcVersionRuntime === 'string';

test('a package without prebuilds/ says it carries none', () => {
  const found = findPrebuilt(packageWith([]));
  assert.equal(found.path, undefined);
  assert.match(found.reason, /carries no prebuilt libraries/);
});

test("a package without this machine's platform names the ones it carries", () => {
  const found = findPrebuilt(packageWith(['plan9-mips', 'aix-ppc64']));
  assert.equal(found.path, undefined);
  assert.equal(found.reason, `no prebuilt library for ${HERE} (the package carries aix-ppc64, plan9-mips)`);
});

test("this machine's prebuilt library is found where glibc can run it", { skip: !onGlibc && 'not a glibc system' }, () => {
  const directory = packageWith(['plan9-mips', HERE]);
  assert.deepEqual(findPrebuilt(directory), { path: path.join(directory, 'prebuilds', HERE, LIBRARY_FILE) });
});
