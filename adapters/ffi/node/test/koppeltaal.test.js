'use strict';
// The Node.js package over the C ABI: verification, every kind of refusal with its code and
// name, replay (sync, async, concurrent, through Redis), producing tokens, bad arguments.

const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { test } = require('node:test');

const koppeltaal = require('..');
const { KoppeltaalError, Verifier } = koppeltaal;

const ISSUER = 'https://portal.example.org';
const AUDIENCE = 'Device/42';
const DEFINITION = 'https://module.example.org/ActivityDefinition/1';
const NOW = 1_700_000_000;

const pem = koppeltaal.generateKey('RS512', 2048);
const jwks = koppeltaal.jwksFromPem(pem);

function launch(key, overrides = {}) {
  return koppeltaal.launchToken(key, {
    issuer: ISSUER,
    audience: AUDIENCE,
    sub: 'Practitioner/a5e58253',
    resource: 'Task/11',
    definition: DEFINITION,
    now: NOW,
    ...overrides,
  });
}

function verifier(options = {}) {
  return new Verifier(jwks, { issuer: ISSUER, audience: AUDIENCE, ...options });
}

/** Runs `action` and returns the KoppeltaalError it throws (failing if it throws nothing else). */
function refusal(action) {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof KoppeltaalError, `not a KoppeltaalError: ${error}`);
    return error;
  }
  assert.fail('accepted');
}

test('a launch verifies and its claims come back', () => {
  const claims = verifier().verify(launch(pem, { patient: 'Patient/1', intent: 'plan' }), { now: NOW + 5 });
  assert.equal(claims.resource, 'Task/11');
  assert.equal(claims.patient, 'Patient/1');
  assert.equal(claims.intent, 'plan');
  assert.equal(claims.exp - claims.iat, 300);
  assert.equal(JSON.parse(jwks).keys[0].alg, 'RS512');
});

test('a launch is accepted once: the replay is code 600, Replayed', () => {
  const once = verifier();
  const token = launch(pem);
  once.verify(token, { now: NOW + 5 });
  const error = refusal(() => once.verify(token, { now: NOW + 6 }));
  assert.deepEqual([error.code, error.name, error.message], [600, 'Replayed', 'token has been used before (code 600)']);
  assert.equal(String(error), 'Replayed: token has been used before (code 600)');
});

const refusals = [
  ['malformed', () => 'not a token', NOW, 101, 'MalformedToken'],
  ['alg none', () => 'eyJhbGciOiJub25lIn0.e30.', NOW, 300, 'ForbiddenAlgorithm'],
  ['expired', () => launch(pem), NOW + 1000, 503, 'Expired'],
  ['other audience', () => launch(pem, { audience: 'Device/7' }), NOW + 5, 502, 'WrongAudience'],
  ['other issuer', () => launch(pem, { issuer: 'https://other.example.org' }), NOW + 5, 400, 'WrongIssuer'],
  ['algorithm not allowed', () => launch(koppeltaal.generateKey('ES256')), NOW + 5, 302, 'AlgorithmNotAllowed'],
];
for (const [label, make, now, code, name] of refusals) {
  test(`refused with its code and name: ${label}`, () => {
    const error = refusal(() => verifier().verify(make(), { now }));
    assert.deepEqual([error.code, error.name], [code, name]);
  });
}

test('a forged signature is refused', () => {
  const [genuine, other] = [launch(pem), launch(pem)];
  const forged = `${genuine.slice(0, genuine.lastIndexOf('.'))}.${other.split('.')[2]}`;
  assert.equal(refusal(() => verifier().verify(forged, { now: NOW + 5 })).code, 408);
});

test('settings in the constructor, and a second issuer', () => {
  const ecPem = koppeltaal.generateKey('ES256');
  const configured = verifier({ algorithms: ['ES256'], leeway: 2000, maxLifetime: 120, replayCapacity: 4 });
  configured.addIssuer('https://other.example.org', JSON.parse(koppeltaal.jwksFromPem(ecPem)));
  const claims = configured.verify(launch(ecPem, { issuer: 'https://other.example.org', lifetime: 120 }), {
    now: NOW + 1500,
  });
  assert.equal(claims.iss, 'https://other.example.org');
  assert.equal(refusal(() => configured.verify(launch(pem, { lifetime: 121 }), { now: NOW + 5 })).name, 'LifetimeTooLong');
  assert.equal(refusal(() => configured.allowAlgorithm('HS512')).code, 300);
  assert.equal(refusal(() => configured.setMaxLifetime(0)).code, 1002);
  assert.equal(refusal(() => verifier({ algorithms: ['none'] })).name, 'ForbiddenAlgorithm');
});

test('verifyAsync resolves with the claims and rejects a replay with 600', async () => {
  const asynchronous = verifier();
  const token = launch(pem);
  assert.equal((await asynchronous.verifyAsync(token, { now: NOW + 5 })).resource, 'Task/11');
  await assert.rejects(asynchronous.verifyAsync(token, { now: NOW + 5 }), (error) => {
    assert.ok(error instanceof KoppeltaalError);
    return error.code === 600 && error.name === 'Replayed';
  });
});

test('eight concurrent verifications of one token on worker threads: one acceptance', async () => {
  const shared = verifier();
  const token = launch(pem);
  const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => shared.verifyAsync(token, { now: NOW + 5 })));
  const accepted = outcomes.filter((outcome) => outcome.status === 'fulfilled');
  const codes = outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => outcome.reason.code);
  assert.equal(accepted.length, 1);
  assert.deepEqual(codes, Array(7).fill(600));
});

test('closing while asynchronous calls run frees the verifier only after they finish', async () => {
  const closing = verifier();
  const pending = [launch(pem), launch(pem)].map((token) => closing.verifyAsync(token, { now: NOW + 5 }));
  closing.close();
  closing.close();
  const results = await Promise.all(pending);
  assert.deepEqual(results.map((claims) => claims.resource), ['Task/11', 'Task/11']);
  assert.throws(() => closing.verify(launch(pem)), /closed/);
  await assert.rejects(async () => closing.verifyAsync(launch(pem)), /closed/);
});

test('client assertions carry the SMART claims', () => {
  const assertion = koppeltaal.clientAssertion(pem, {
    clientId: 'my-client',
    tokenEndpoint: 'https://auth.example.org/token',
    now: NOW,
  });
  const claims = JSON.parse(Buffer.from(assertion.split('.')[1], 'base64url').toString());
  assert.deepEqual([claims.iss, claims.sub, claims.aud], ['my-client', 'my-client', 'https://auth.example.org/token']);
  assert.equal(claims.exp - claims.iat, 120);
  assert.equal(claims.jti.length, 36);
});

test('bad arguments are errors, not crashes', () => {
  assert.throws(() => new Verifier(jwks, { audience: AUDIENCE }), TypeError);
  assert.throws(() => new Verifier(jwks), TypeError);
  assert.throws(() => new Verifier(42, { issuer: ISSUER, audience: AUDIENCE }), TypeError);
  assert.throws(() => verifier().verify(42), TypeError);
  assert.throws(() => verifier().verify('a.b.c', { now: -1 }), RangeError);
  assert.throws(() => verifier({ leeway: 1.5 }), RangeError);
  assert.equal(refusal(() => new Verifier('{}', { issuer: ISSUER, audience: AUDIENCE })).code, 700);
  assert.equal(refusal(() => new Verifier('{"keys":', { issuer: ISSUER, audience: AUDIENCE })).code, 200);
  assert.equal(refusal(() => launch('not a key')).code, 909);
  assert.equal(refusal(() => koppeltaal.generateKey('HS256')).code, 300);
  assert.equal(koppeltaal.statusMessage(123456), 'unknown status');
  assert.equal(koppeltaal.statusName(123456), 'Unknown');
});

test('a token as bytes verifies like its text', () => {
  const claims = verifier().verify(Buffer.from(launch(pem)), { now: NOW + 5 });
  assert.equal(claims.sub, 'Practitioner/a5e58253');
});

test('an encrypted launch is decrypted then verified once', () => {
  const modulePem = koppeltaal.generateKey('RS512');
  const token = koppeltaal.encryptLaunch(launch(pem, { now: undefined }), modulePem, {
    keyAlgorithm: 'RSA-OAEP',
    contentEncryption: 'A128CBC-HS256',
  });
  assert.equal(token.split('.').length, 5);
  const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
  assert.deepEqual([header.alg, header.enc, header.cty], ['RSA-OAEP', 'A128CBC-HS256', 'JWT']);
  const receiving = verifier();
  assert.equal(refusal(() => receiving.verify(token)).code, 102);
  receiving.addDecryptionKey(modulePem);
  assert.equal(receiving.verify(token).resource, 'Task/11');
  assert.equal(refusal(() => receiving.verify(token)).code, 600);
});

test('every name is that of the C header', () => {
  const header = fs.readFileSync(path.join(__dirname, '..', '..', 'include', 'koppeltaal.h'), 'utf8');
  const defined = [...header.matchAll(/#define KOPPELTAAL_(\w+) (\d+)/g)];
  assert.ok(defined.length > 60);
  for (const [, constant, code] of defined) {
    const name = koppeltaal.statusName(Number(code));
    assert.equal(name.replace(/(?<!^)([A-Z])/g, '_$1').toUpperCase(), constant);
  }
});

test('the ES module entry exports the same API', async () => {
  const esm = await import('koppeltaal');
  assert.equal(esm.Verifier, Verifier);
  assert.equal(esm.default.launchToken, koppeltaal.launchToken);
});

test('the README example prints the resource, then the replay code', () => {
  const example = path.join(__dirname, '..', 'examples', 'replay.mjs');
  const printed = execFileSync(process.execPath, [example], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(printed, 'Task/11\n600 Replayed\n');
});

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRedis() {
  // A real redis-server on loopback (Debian package; .ci/run installs it).
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const process = spawn('redis-server', args, { stdio: 'ignore' });
  const spawned = await new Promise((resolve) => {
    process.once('spawn', () => resolve(true));
    process.once('error', () => resolve(false));
  });
  assert.ok(spawned, 'redis-server is not installed (apt install redis-server; .ci/run does)');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const connected = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(socket.end() && true));
      socket.once('error', () => resolve(false));
    });
    if (connected) {
      return { process, url: `redis://127.0.0.1:${port}/` };
    }
    assert.ok(Date.now() < deadline, 'redis-server did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('verifiers sharing Redis accept a launch once; Redis down is 913', async () => {
  const redis = await startRedis();
  try {
    const [first, second] = [verifier(), verifier()];
    for (const each of [first, second]) {
      each.useRedis(redis.url, 'node-test:');
    }
    const now = Math.floor(Date.now() / 1000);
    const token = launch(pem, { now });
    assert.equal((await first.verifyAsync(token)).resource, 'Task/11');
    assert.equal(refusal(() => second.verify(token)).code, 600);
    await assert.rejects(second.verifyAsync(token), (error) => error.code === 600);
    redis.process.kill();
    await new Promise((resolve) => redis.process.once('exit', resolve));
    const error = refusal(() => second.verify(launch(pem, { now })));
    assert.deepEqual([error.code, error.name], [913, 'ReplayStoreUnavailable']);
  } finally {
    redis.process.kill();
  }
});

test('useRedis with options names the cause and requires replica acknowledgements', async () => {
  const redis = await startRedis();
  try {
    const each = verifier();
    const badUrl = refusal(() => each.useRedis('redis://a:1,b:2/'));
    assert.equal(badUrl.code, 901);
    assert.match(badUrl.detail, /several hosts/);
    const closed = refusal(() => each.useRedis('redis://127.0.0.1:1/', { checkNow: true }));
    assert.equal(closed.code, 913);
    assert.match(closed.detail, /connection refused/);
    each.useRedis(redis.url, { prefix: 'node-replicas:', minReplicas: 1, replicaTimeoutMs: 100, checkNow: true });
    const token = launch(pem, { now: Math.floor(Date.now() / 1000) });
    assert.equal(refusal(() => each.verify(token)).code, 913);
    assert.equal(refusal(() => each.verify(token)).code, 600);
  } finally {
    redis.process.kill();
  }
});
