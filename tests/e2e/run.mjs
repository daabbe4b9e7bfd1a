// The deployment test: a real browser (Debian's Chromium, driven by playwright-core) launches
// the module through the gateway the way a portal does, with every party a separate site
// behind real TLS: portal.test (a page that form-posts the launch), module.test (nginx: the
// launch paths to two `koppeltaal serve` instances sharing a Redis replay store, the rest to
// the application) and auth.test (oidc-provider, for SHOF). The test CA is made for the run
// and trusted by the browser through its NSS database, never by skipping certificate checks.
//
//   node tests/e2e/run.mjs [path/to/koppeltaal]      (default target/debug/koppeltaal)
//
// Every journey is asserted on what the browser shows and holds. Screenshots go to
// target/e2e/. The whole run is bounded (170 s). Without Chromium, nginx or certutil it skips,
// saying so loudly, unless KOPPELTAAL_REQUIRE_PEERS is set (CI), where that is a failure.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const koppeltaal = path.resolve(process.argv[2] ?? path.join(root, 'target', 'debug', 'koppeltaal'));
const artifacts = path.join(root, 'target', 'e2e');
const work = mkdtempSync(path.join(tmpdir(), 'koppeltaal-e2e-'));
const started = Date.now();
const children = [];

const PORTAL = 'https://portal.test';
const MODULE = 'https://module.test';
const AUTH = 'https://auth.test';
const DEVICE = 'Device/42';
const CLIENT_ID = 'e2e-module';
const DEFINITION = 'https://module.test/ActivityDefinition/1';

function finish(code) {
  // SIGTERM first (nginx's master then stops its worker too), SIGKILL what is left.
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    process.exit(code);
  }, 300);
}

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => finish(1));

const watchdog = setTimeout(() => {
  console.error('e2e: FAILED: not finished within 170 s');
  finish(1);
}, 170_000);

function onPath(program) {
  return (process.env.PATH ?? '').split(':').some((directory) => existsSync(path.join(directory, program)));
}

// Debian's /usr/bin/chromium is a shell wrapper; the browser itself is under /usr/lib.
const chromiumBinary = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((file) => existsSync(file));
const missing = [
  [chromiumBinary !== undefined, 'chromium (Debian package chromium)'],
  [onPath('nginx'), 'nginx (Debian package nginx)'],
  [onPath('certutil'), 'certutil (Debian package libnss3-tools)'],
  [onPath('redis-server'), 'redis-server (Debian package redis-server)'],
  [onPath('openssl'), 'openssl (Debian package openssl)'],
  [existsSync(koppeltaal), `${koppeltaal} (cargo build -p koppeltaal-cli)`],
].filter(([present]) => !present).map(([, what]) => what);
if (missing.length > 0) {
  const message = `the deployment test needs ${missing.join(', ')}`;
  if (process.env.KOPPELTAAL_REQUIRE_PEERS) {
    console.error(`e2e: FAILED: ${message} (KOPPELTAAL_REQUIRE_PEERS is set: no test may skip)`);
    finish(1);
  }
  console.error(`\n!!! SKIPPED the deployment test in a real browser: ${message}\n`);
  finish(0);
}

const file = (name) => path.join(work, name);
const run = (program, args, options = {}) => execFileSync(program, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a child whose output goes to work/<name>.log; resolves with the first match of `ready` in it. */
function start(name, program, args, { env = {}, ready }) {
  const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let log = '';
  let partial = '';
  const lines = [];
  const append = (chunk) => {
    log += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    lines.push(...parts.filter(Boolean));
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  child.lines = lines;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s:\n${log}`)), 20_000);
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}):\n${log}`)));
    const check = () => {
      const match = log.match(ready);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.stderr.off('data', check);
        resolve({ child, match });
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
  });
}

async function waitForPort(port) {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(() => resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

// 1. The test CA and one certificate for the three sites; the browser's NSS database trusts
//    the CA (a fresh HOME for the browser, so the machine's own trust is not touched).
const subject = (cn) => ['-subj', `/CN=${cn}`];
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
run('openssl', ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', ...subject('koppeltaal e2e CA')]);
run('openssl', ['req', ...ec, '-keyout', file('sites.key'), '-out', file('sites.csr'), ...subject('module.test')]);
writeFileSync(file('sites.ext'), 'subjectAltName=DNS:portal.test,DNS:module.test,DNS:auth.test\nextendedKeyUsage=serverAuth\n');
run('openssl', ['x509', '-req', '-in', file('sites.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
  '-CAcreateserial', '-out', file('sites.pem'), '-days', '1', '-extfile', file('sites.ext')]);
const home = file('home');
const nssdb = `sql:${path.join(home, '.pki', 'nssdb')}`;
mkdirSync(path.join(home, '.pki', 'nssdb'), { recursive: true });
run('certutil', ['-N', '-d', nssdb, '--empty-password']);
run('certutil', ['-A', '-d', nssdb, '-n', 'koppeltaal-e2e-ca', '-t', 'C,,', '-i', file('ca.pem')]);

// 2. Keys and secrets: the portal's signing key, the module's client key (SHOF), the
//    gateway-to-application secret, the shared cookie secret.
run(koppeltaal, ['keygen', '--out', file('portal.pem')]);
writeFileSync(file('portal.jwks'), run(koppeltaal, ['jwks', '--key', file('portal.pem')]));
run(koppeltaal, ['keygen', '--out', file('module.pem')]);
const moduleJwks = run(koppeltaal, ['jwks', '--key', file('module.pem')]).toString();
writeFileSync(file('upstream.secret'), randomBytes(32).toString('base64'));
writeFileSync(file('cookie.secret'), randomBytes(32).toString('base64'));
const launch = (sub, resource) =>
  run(koppeltaal, ['launch', '--key', file('portal.pem'), '--issuer', PORTAL, '--audience', DEVICE,
    '--sub', sub, '--resource', resource, '--definition', DEFINITION]).toString().trim();

// 3. The services.
const redisPort = await freePort();
await start('redis', 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  { ready: /Ready to accept connections/ });
const auth = await start('oidc-provider', 'node', [path.join(root, 'tests', 'oidc', 'shof.mjs')], {
  env: {
    CLIENT_ID, CLIENT_JWKS: moduleJwks, REDIRECT_URI: `${MODULE}/shof/return`,
    PORTAL_JWKS: readFileSync(file('portal.jwks')).toString(), PORTAL_ISSUER: PORTAL, MODULE_DEVICE: DEVICE,
    PUBLIC_ISSUER: AUTH,
  },
  ready: /READY (\S+) (\S+)/,
});
const fhirBase = auth.match[2];
const authPort = new URL(fhirBase).port;
const app = await start('application', 'node', [path.join(here, 'app.mjs')], {
  env: { UPSTREAM_SECRET: file('upstream.secret') },
  ready: /READY (\d+)/,
});
const appPort = app.match[1];
const gateway = (name) => start(name, koppeltaal, [
  'serve', '--listen', '127.0.0.1:0', '--jwks', file('portal.jwks'), '--issuer', PORTAL, '--audience', DEVICE,
  '--upstream', `http://127.0.0.1:${appPort}/koppeltaal/launch`, '--upstream-secret', file('upstream.secret'),
  '--trusted-proxy', '127.0.0.1', '--cookie-secret', file('cookie.secret'),
  '--replay-store', `redis://127.0.0.1:${redisPort}/`,
  '--key', file('module.pem'), '--client-id', CLIENT_ID, '--redirect-uri', `${MODULE}/shof/return`,
  '--fhir-server', fhirBase, '--log-format', 'json',
], { ready: /listening on http:\/\/127\.0\.0\.1:(\d+)/ });
const gateways = [await gateway('gateway A'), await gateway('gateway B')];

// 4. The portal's pages: each auto-submits one launch form, as the reference portals do.
const portalRoot = file('portal');
mkdirSync(portalRoot);
function portalPage(name, fields) {
  const inputs = Object.entries(fields)
    .map(([field, value]) => `<input type="hidden" name="${field}" value="${value}">`)
    .join('');
  writeFileSync(path.join(portalRoot, `${name}.html`),
    '<!doctype html><html><head><meta charset="utf-8"><title>Portal</title></head><body>' +
    `<form method="post" action="${MODULE}/launch">${inputs}<button>Start the module</button></form>` +
    // Submitted on arrival, not again when the user comes back to it (then the button is there).
    "<script>if (performance.getEntriesByType('navigation')[0]?.type !== 'back_forward') " +
    'document.forms[0].submit()</script></body></html>');
  return `${PORTAL}/${name}.html`;
}

// 5. nginx in front of it all, on one loopback port for the three names.
const tlsPort = await freePort();
mkdirSync(file('nginx'));
const nginxConf = readFileSync(path.join(here, 'nginx.conf')).toString()
  .replaceAll('{{USER}}', process.getuid?.() === 0 ? 'user root;' : '')
  .replaceAll('{{PREFIX}}', file('nginx'))
  .replaceAll('{{CERT}}', file('sites.pem'))
  .replaceAll('{{KEY}}', file('sites.key'))
  .replaceAll('{{PORT}}', String(tlsPort))
  .replaceAll('{{PORTAL_ROOT}}', portalRoot)
  .replaceAll('{{GATEWAY_A}}', gateways[0].match[1])
  .replaceAll('{{GATEWAY_B}}', gateways[1].match[1])
  .replaceAll('{{APP}}', appPort)
  .replaceAll('{{AUTH}}', authPort);
writeFileSync(file('nginx.conf'), nginxConf);
const nginx = spawn('nginx', ['-c', file('nginx.conf'), '-p', file('nginx'), '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'inherit'] });
children.push(nginx);
await waitForPort(tlsPort);

// 6. The browser: the three names resolve to nginx's port; its CA store is the run's.
const browser = await chromium.launch({
  executablePath: chromiumBinary,
  env: { ...process.env, HOME: home },
  args: [
    `--host-resolver-rules=${['portal.test', 'module.test', 'auth.test'].map((host) => `MAP ${host}:443 127.0.0.1:${tlsPort}`).join(', ')}`,
  ],
  timeout: 30_000,
});
mkdirSync(artifacts, { recursive: true });

/** The gateway instances' JSON log lines of `flow` so far, as [instance, line]. */
function logged(flow) {
  return gateways.flatMap(({ child }, index) => child.lines
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((line) => line.flow === flow)
    .map((line) => [index, line]));
}
const launchesSeen = async () => (await (await fetch(`http://127.0.0.1:${appPort}/launches`)).json()).launches;
const step = (name) => console.log(`e2e: ${name} ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);

try {
  // HTI: portal -> gateway -> application, which starts its session and redirects into its UI.
  // A Dutch browser, as the portals' users have; the size of the README's screenshots.
  const context = await browser.newContext({ locale: 'nl-NL', viewport: { width: 820, height: 300 } });
  const page = await context.newPage();
  const htiPage = portalPage('hti', { token: launch('Practitioner/a5e58253', 'Task/11') });
  writeFileSync(path.join(portalRoot, 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8"><title>Portal</title></head><body><a href="${htiPage}">Open the module</a></body></html>`);
  await page.goto(`${PORTAL}/index.html`);
  await page.click('a');
  await page.waitForURL(`${MODULE}/app`);
  assert.equal(await page.textContent('#user'), 'Practitioner/a5e58253');
  assert.equal(await page.textContent('#resource'), 'Task/11');
  const session = (await context.cookies(MODULE)).find((cookie) => cookie.name === 'app_session');
  assert.ok(session, 'the application session cookie is kept');
  assert.deepEqual([session.secure, session.httpOnly, session.sameSite], [true, true, 'Lax']);
  await page.screenshot({ path: path.join(artifacts, 'landing.png') });
  step('HTI launch lands in the application, signed in');

  // Back to the portal and submit again: the same launch is posted again, and nginx sends it
  // to the other gateway instance, which refuses it through the shared replay store.
  // (Chromium replaces the history entry of a page that submits a form while it loads, so
  // Back may land on the portal's index; the user opens the module from there again.)
  await page.goBack();
  await page.waitForURL((url) => url.origin === PORTAL);
  await page.click(page.url() === htiPage ? 'button' : 'a');
  await page.waitForURL(`${MODULE}/launch`);
  const refusal = await page.textContent('body');
  assert.match(refusal, /600/, refusal);
  assert.match(refusal, /[0-9a-f]{8}-[0-9a-f]{4}-/, `the request id is shown: ${refusal}`);
  await page.screenshot({ path: path.join(artifacts, 'refusal.png') });
  assert.equal(await launchesSeen(), 1, 'the application saw one launch');
  const hti = logged('hti');
  assert.deepEqual(hti.map(([, line]) => `${line.outcome} ${line.code}`), ['accepted 0', 'refused 600'], JSON.stringify(hti));
  assert.notEqual(hti[0][0], hti[1][0], 'the replay reached the other instance');
  step('the same launch from the history is refused (600) by the other instance');

  // SHOF: portal -> gateway (state cookie) -> auth.test (sign-in) -> gateway -> application.
  async function shofUntilSignIn(tab, resource) {
    await tab.goto(portalPage(`shof-${resource.replace('/', '-')}`, {
      iss: fhirBase, launch: launch('Practitioner/a5e58253', resource),
    }));
    await tab.waitForURL(/^https:\/\/auth\.test\/interaction\//);
    const state = (await tab.context().cookies(MODULE)).find((cookie) => cookie.name.startsWith('__Host-koppeltaal-shof-'));
    assert.ok(state, 'the gateway keeps the launch in a __Host- cookie');
    // Its SameSite is judged by what follows: the browser must send it back on the return
    // from auth.test, a navigation another site started.
    assert.deepEqual([state.secure, state.httpOnly, state.path], [true, true, '/']);
  }
  async function signIn(tab, login, resource) {
    await tab.fill('input[name=login]', login);
    await tab.fill('input[name=password]', 'any');
    await tab.click('button[type=submit]');
    // Back on module.test: the application's page, or the gateway's refusal (shown).
    await tab.waitForURL((url) => url.origin === MODULE);
    assert.equal(new URL(tab.url()).pathname, '/app', await tab.textContent('body'));
    assert.equal(await tab.textContent('#login'), login);
    assert.equal(await tab.textContent('#user'), 'Practitioner/a5e58253');
    assert.equal(await tab.textContent('#resource'), resource);
  }
  const shofContext = await browser.newContext();
  const shofTab = await shofContext.newPage();
  await shofUntilSignIn(shofTab, 'Task/21');
  await signIn(shofTab, 'marie', 'Task/21');
  const shof = logged('shof_start').concat(logged('shof'));
  assert.equal(shof.length, 2, JSON.stringify(shof));
  assert.notEqual(shof[0][0], shof[1][0], 'begun on one instance, finished on the other');
  step('SHOF round trip through auth.test, begun on one gateway and finished on the other');

  // Two SHOF launches in two tabs, interleaved: both complete.
  const tabsContext = await browser.newContext();
  const [first, second] = [await tabsContext.newPage(), await tabsContext.newPage()];
  await shofUntilSignIn(first, 'Task/31');
  await shofUntilSignIn(second, 'Task/32');
  await signIn(second, 'jan', 'Task/32');
  await signIn(first, 'jan', 'Task/31');
  step('two SHOF launches in two tabs, interleaved, both complete');
  assert.equal(await launchesSeen(), 4, 'one HTI and three SHOF launches reached the application');
  clearTimeout(watchdog);
  await browser.close();
  console.log(`e2e: all journeys passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${artifacts}`);
  finish(0);
} catch (error) {
  console.error(`e2e: FAILED: ${error.stack ?? error}`);
  for (const [index, { child }] of gateways.entries()) {
    console.error(`--- gateway ${'AB'[index]} log:\n${child.lines.slice(-20).join('\n')}`);
  }
  await browser.close().catch(() => {});
  clearTimeout(watchdog);
  finish(1);
}
