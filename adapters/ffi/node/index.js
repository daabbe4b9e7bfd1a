'use strict';
// Verify HTI launch tokens and produce Koppeltaal 2.0 tokens, over the C ABI of koppeltaal-rs.
// The types and documentation of every export are in index.d.ts.

const { LIBRARY_PATH, REDIS_OPTIONS_SIZE, functions: c } = require('./lib/native.js');

const OK = 0;
const BUFFER_TOO_SMALL = 800;

/** The library's one-line description of a status code. */
function statusMessage(code) {
  return c.statusMessage(code);
}

/** The stable name of a status code ("Replayed" for 600). */
function statusName(code) {
  return c.statusName(code);
}

/** A refusal or failure: `code` is the stable status code, `name` its stable name. */
class KoppeltaalError extends Error {
  constructor(code, detail) {
    super(`${statusMessage(code)} (code ${code})${detail ? `: ${detail}` : ''}`);
    this.code = code;
    this.name = statusName(code);
    this.detail = detail ?? null;
  }
}

function check(status) {
  if (status !== OK) {
    throw new KoppeltaalError(status);
  }
}

function text(value, what, { optional = false } = {}) {
  if (value === undefined || value === null) {
    if (optional) {
      return null;
    }
    throw new TypeError(`${what} is required`);
  }
  if (typeof value !== 'string') {
    throw new TypeError(`${what} must be a string, not ${typeof value}`);
  }
  return value;
}

/** A JSON document given as text, bytes or an object, as bytes. */
function jsonBytes(value, what) {
  if (typeof value === 'string') {
    return Buffer.from(value, 'utf8');
  }
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value !== null && typeof value === 'object') {
    return Buffer.from(JSON.stringify(value), 'utf8');
  }
  throw new TypeError(`${what} must be a JSON document (string, Buffer or object)`);
}

function tokenBytes(token) {
  if (typeof token === 'string') {
    return Buffer.from(token, 'utf8');
  }
  if (token instanceof Uint8Array) {
    return Buffer.from(token.buffer, token.byteOffset, token.byteLength);
  }
  throw new TypeError('token must be a string or a Buffer');
}

/** A whole, non-negative number (`undefined` and `null` are 0: "the default" to the C ABI). */
function whole(value, what) {
  if (value === undefined || value === null) {
    return 0;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a whole, non-negative number`);
  }
  return value;
}

/** Calls `call(buffer, capacity, length)`, growing the buffer once if it is too small. */
function output(call, capacity = 4096) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const buffer = Buffer.alloc(capacity);
    const length = [0];
    const status = call(buffer, capacity, length);
    const needed = Number(length[0]);
    if (status === BUFFER_TOO_SMALL && needed > capacity) {
      capacity = needed;
      continue;
    }
    check(status);
    return buffer.toString('utf8', 0, needed);
  }
  throw new KoppeltaalError(BUFFER_TOO_SMALL);
}

const verifiers = new FinalizationRegistry((handle) => c.verifierFree(handle));

/**
 * Verifies HTI launch tokens from trusted issuers for one audience, and remembers each accepted
 * launch so that it is accepted only once.
 */
class Verifier {
  #handle;
  #pending = 0;
  #closed = false;

  constructor(jwks, options) {
    const { issuer, audience, algorithms = [], leeway, maxLifetime, replayCapacity = 1024 } = options ?? {};
    const capacity = whole(replayCapacity, 'replayCapacity');
    const document = jsonBytes(jwks, 'jwks');
    const out = [null];
    check(
      c.verifierNew(document, document.length, text(issuer, 'issuer'), text(audience, 'audience'), capacity, out),
    );
    this.#handle = out[0];
    verifiers.register(this, this.#handle, this);
    try {
      for (const algorithm of algorithms) {
        this.allowAlgorithm(algorithm);
      }
      if (leeway !== undefined) {
        this.setLeeway(leeway);
      }
      if (maxLifetime !== undefined) {
        this.setMaxLifetime(maxLifetime);
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  #live() {
    if (this.#closed) {
      throw new Error('the verifier has been closed');
    }
    return this.#handle;
  }

  /** Trusts one more issuer with the keys of its JWKS document. */
  addIssuer(issuer, jwks) {
    const document = jsonBytes(jwks, 'jwks');
    check(c.addIssuer(this.#live(), text(issuer, 'issuer'), document, document.length));
  }

  /** Accepts one more algorithm ("ES256", ...); RS512 always is. */
  allowAlgorithm(algorithm) {
    check(c.allowAlgorithm(this.#live(), text(algorithm, 'algorithm')));
  }

  /** Sets the clock leeway in seconds (default 60). */
  setLeeway(leeway) {
    check(c.setLeeway(this.#live(), whole(leeway, 'leeway')));
  }

  /** Sets the maximum lifetime exp - iat in seconds (default 300). */
  setMaxLifetime(maxLifetime) {
    check(c.setMaxLifetime(this.#live(), whole(maxLifetime, 'maxLifetime')));
  }

  /** Remembers accepted launches in Redis, shared with other processes. */
  useRedis(url, prefixOrOptions) {
    const options = typeof prefixOrOptions === 'string' ? { prefix: prefixOrOptions } : (prefixOrOptions ?? {});
    const settings = {
      struct_size: REDIS_OPTIONS_SIZE,
      min_replicas: whole(options.minReplicas, 'minReplicas'),
      replica_timeout_ms: whole(options.replicaTimeoutMs, 'replicaTimeoutMs'),
      check_now: options.checkNow ? 1 : 0,
      prefix: text(options.prefix, 'prefix', { optional: true }),
      ca_file: text(options.caFile, 'caFile', { optional: true }),
      cert_file: text(options.certFile, 'certFile', { optional: true }),
      key_file: text(options.keyFile, 'keyFile', { optional: true }),
      password_file: text(options.passwordFile, 'passwordFile', { optional: true }),
    };
    const detail = Buffer.alloc(1024);
    const length = [0];
    const status = c.useRedisWith(this.#live(), text(url, 'url'), settings, detail, detail.length, length);
    if (status !== OK) {
      throw new KoppeltaalError(status, detail.subarray(0, length[0]).toString('utf8') || undefined);
    }
  }

  /** Decrypts encrypted launches (HTI:jwe) with this RSA private key (PEM); repeatable. */
  addDecryptionKey(pem) {
    check(c.addDecryptionKey(this.#live(), text(pem, 'pem')));
  }

  /** Verifies a launch, records it as used, and returns its claims; throws KoppeltaalError. */
  verify(token, options) {
    const data = tokenBytes(token);
    const now = whole(options?.now, 'now');
    const handle = this.#live();
    return JSON.parse(output((buffer, capacity, length) => c.verify(handle, data, data.length, now, buffer, capacity, length), 2048));
  }

  /** `verify` on a worker thread, for verifiers whose replay store is Redis (network I/O). */
  verifyAsync(token, options) {
    return new Promise((resolve, reject) => {
      const data = tokenBytes(token);
      const now = whole(options?.now, 'now');
      const handle = this.#live();
      const attempt = (capacity, retried) => {
        const buffer = Buffer.alloc(capacity);
        const length = [0];
        this.#pending += 1;
        c.verify.async(handle, data, data.length, now, buffer, capacity, length, (error, status) => {
          this.#pending -= 1;
          this.#freeIfClosed();
          const needed = Number(length[0]);
          if (error) {
            reject(error);
          } else if (status === BUFFER_TOO_SMALL && needed > capacity && !retried && !this.#closed) {
            attempt(needed, true);
          } else if (status !== OK) {
            reject(new KoppeltaalError(status));
          } else {
            resolve(JSON.parse(buffer.toString('utf8', 0, needed)));
          }
        });
      };
      attempt(2048, false);
    });
  }

  /** Frees the verifier once calls in progress have finished (also done when it is collected). */
  close() {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    verifiers.unregister(this);
    this.#freeIfClosed();
  }

  #freeIfClosed() {
    if (this.#closed && this.#pending === 0 && this.#handle !== null) {
      c.verifierFree(this.#handle);
      this.#handle = null;
    }
  }

  [Symbol.dispose]() {
    this.close();
  }
}

/** A new private key for `algorithm` as PKCS#8 PEM. */
function generateKey(algorithm = 'RS512', rsaBits = 2048) {
  const bits = whole(rsaBits, 'rsaBits');
  return output((buffer, capacity, length) => c.generateKey(text(algorithm, 'algorithm'), bits, buffer, capacity, length));
}

/** The public JWKS (thumbprint kid) of a PEM private key, as JSON text. */
function jwksFromPem(pem) {
  return output((buffer, capacity, length) => c.jwksFromPem(text(pem, 'pem'), buffer, capacity, length));
}

/** A SMART Backend Services client assertion signed with `pem`. */
function clientAssertion(pem, options) {
  const { clientId, tokenEndpoint, now } = options ?? {};
  const fields = [text(pem, 'pem'), text(clientId, 'clientId'), text(tokenEndpoint, 'tokenEndpoint')];
  const at = whole(now, 'now');
  return output((buffer, capacity, length) => c.clientAssertion(...fields, at, buffer, capacity, length));
}

/** An HTI launch token signed with `pem` (the algorithm follows the key), as a portal makes one. */
function launchToken(pem, claims) {
  const { issuer, audience, sub, resource, definition, patient, intent, now, lifetime = 300 } = claims ?? {};
  const fields = [
    text(pem, 'pem'),
    text(issuer, 'issuer'),
    text(audience, 'audience'),
    text(sub, 'sub'),
    text(resource, 'resource'),
    text(definition, 'definition'),
    text(patient, 'patient', { optional: true }),
    text(intent, 'intent', { optional: true }),
  ];
  const at = whole(now, 'now');
  const life = whole(lifetime, 'lifetime');
  return output((buffer, capacity, length) => c.launchToken(...fields, at, life, buffer, capacity, length));
}

/** Encrypts a signed launch to a module (HTI:jwe), as a portal does. */
function encryptLaunch(signed, recipient, options) {
  const { keyAlgorithm, contentEncryption } = options ?? {};
  const fields = [
    text(signed, 'signed'),
    typeof recipient === 'string' ? recipient : jsonBytes(recipient, 'recipient').toString('utf8'),
    text(keyAlgorithm, 'keyAlgorithm', { optional: true }),
    text(contentEncryption, 'contentEncryption', { optional: true }),
  ];
  return output((buffer, capacity, length) => c.encryptLaunch(...fields, buffer, capacity, length), 8192);
}

module.exports = {
  LIBRARY_PATH,
  KoppeltaalError,
  Verifier,
  clientAssertion,
  encryptLaunch,
  generateKey,
  jwksFromPem,
  launchToken,
  statusMessage,
  statusName,
};
