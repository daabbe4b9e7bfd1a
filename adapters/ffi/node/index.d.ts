/**
 * Verify HTI launch tokens and produce Koppeltaal 2.0 tokens, over the C ABI of koppeltaal-rs.
 *
 * ```js
 * const { Verifier, KoppeltaalError } = require('koppeltaal');
 * const verifier = new Verifier(portalJwks, { issuer: 'https://portal.example.org', audience: 'Device/42' });
 * try {
 *   const claims = verifier.verify(token); // { iss, sub, resource: 'Task/11', ... }
 * } catch (error) {
 *   if (error instanceof KoppeltaalError) console.log(error.code, error.name); // 600 'Replayed'
 * }
 * ```
 */

/** How `Verifier.useRedis` reaches Redis. */
export interface RedisOptions {
  /** Key prefix (default `koppeltaal:replay:`). */
  prefix?: string;
  /** A CA certificate file (PEM) to trust instead of the system's roots. */
  caFile?: string;
  /** A client certificate file (PEM), for servers that require one. */
  certFile?: string;
  /** Its private key file (PEM). */
  keyFile?: string;
  /** A file whose first line is the password, for the URL's user. */
  passwordFile?: string;
  /** Accept a launch only once this many replicas acknowledged it (Redis WAIT). */
  minReplicas?: number;
  /** How long to wait for them, in milliseconds (default 500). */
  replicaTimeoutMs?: number;
  /** Connect now: a wrong CA, password or server throws (913, with `detail`). */
  checkNow?: boolean;
}

/** The signing algorithms of HTI 2.0 this library implements. */
export type Algorithm = 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512';

/** A JSON document: its text, its bytes, or the parsed object. */
export type JsonDocument = string | Uint8Array | Record<string, unknown>;

/** Where the shared library was loaded from. */
export declare const LIBRARY_PATH: string;

/** The claims of a verified launch. */
export interface LaunchClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  exp: number;
  jti: string;
  resource: string;
  definition: string;
  patient?: string;
  intent?: string;
  idp_hint?: string;
}

/**
 * A refusal or failure. `code` is the stable status code (600: the launch was used before;
 * the same codes as the C header and every other koppeltaal-rs adapter) and `name` its stable
 * name (`'Replayed'`).
 */
export declare class KoppeltaalError extends Error {
  readonly code: number;
  readonly name: string;
  /** What exactly went wrong, when the call says (`useRedis`); otherwise null. */
  readonly detail: string | null;
  constructor(code: number);
}

export interface VerifierOptions {
  /** The trusted issuer, exactly as in the token's `iss`. */
  issuer: string;
  /** This module's identity, which the token's `aud` must name. */
  audience: string;
  /** Algorithms accepted besides RS512. */
  algorithms?: Algorithm[];
  /** Clock leeway in seconds (default 60). */
  leeway?: number;
  /** The longest `exp - iat` accepted, in seconds (default 300). */
  maxLifetime?: number;
  /** How many unexpired launches the in-memory replay store holds (default 1024). */
  replayCapacity?: number;
}

export interface VerifyOptions {
  /** Unix seconds to verify at (default: the system clock). */
  now?: number;
}

/**
 * Verifies HTI launch tokens from trusted issuers for one audience, and remembers each accepted
 * launch so that it is accepted only once. Freed by `close()` (or when collected).
 */
export declare class Verifier {
  /** `jwks` is the issuer's JWKS document. Throws KoppeltaalError for a bad document or setting. */
  constructor(jwks: JsonDocument, options: VerifierOptions);
  /** Trusts one more issuer with the keys of its JWKS document. */
  addIssuer(issuer: string, jwks: JsonDocument): void;
  /** Accepts one more algorithm; RS512 always is. `none` and HMAC cannot be named (code 300). */
  allowAlgorithm(algorithm: Algorithm): void;
  /** Sets the clock leeway in seconds. */
  setLeeway(seconds: number): void;
  /** Sets the maximum lifetime `exp - iat` in seconds. */
  setMaxLifetime(seconds: number): void;
  /**
   * Remembers accepted launches in Redis, shared with other processes; before the first
   * verification only. `url`: `redis://[user:password@]host:port[/db]`, `rediss://` (TLS),
   * `redis+sentinel://s1:26379,s2:26379/MASTER[/db]` or `redis+cluster://n1:7000,n2:7001`
   * (`rediss+...` likewise). When Redis is unreachable launches are refused (913).
   */
  useRedis(url: string, prefixOrOptions?: string | RedisOptions): void;
  /** Decrypts encrypted launches (HTI:jwe) with this RSA private key (PEM); repeatable. */
  addDecryptionKey(pem: string): void;
  /** Verifies `token`, records it as used, and returns its claims; throws KoppeltaalError. */
  verify(token: string | Uint8Array, options?: VerifyOptions): LaunchClaims;
  /**
   * `verify` on a worker thread, so that a Redis round trip does not block the event loop;
   * rejects with KoppeltaalError.
   */
  verifyAsync(token: string | Uint8Array, options?: VerifyOptions): Promise<LaunchClaims>;
  /** Frees the verifier once calls in progress have finished. Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}

/** A new private key for `algorithm` (default RS512) as PKCS#8 PEM; RSA of `rsaBits` (2048, 3072, 4096). */
export declare function generateKey(algorithm?: Algorithm, rsaBits?: number): string;

/** The public JWKS (RFC 7638 thumbprint `kid`) of a PEM private key, as JSON text. */
export declare function jwksFromPem(pem: string): string;

export interface LaunchClaimsToSign {
  issuer: string;
  audience: string;
  sub: string;
  resource: string;
  definition: string;
  patient?: string;
  intent?: string;
  /** Unix seconds of `iat` (default: the system clock). */
  now?: number;
  /** Seconds from `iat` to `exp` (default 300). */
  lifetime?: number;
}

/** An HTI launch token signed with `pem` (the algorithm follows the key), as a portal makes one. */
export declare function launchToken(pem: string, claims: LaunchClaimsToSign): string;

export interface ClientAssertionOptions {
  clientId: string;
  /** The token endpoint, the assertion's `aud`. */
  tokenEndpoint: string;
  /** Unix seconds of `iat` (default: the system clock). */
  now?: number;
}

/** A SMART Backend Services client assertion signed with `pem` (valid two minutes, random `jti`). */
export declare function clientAssertion(pem: string, options: ClientAssertionOptions): string;

export interface EncryptOptions {
  /** Default: the JWK's `alg`, else RSA-OAEP-256. */
  keyAlgorithm?: 'RSA-OAEP' | 'RSA-OAEP-256';
  /** Default A256GCM. */
  contentEncryption?: 'A128CBC-HS256' | 'A192CBC-HS384' | 'A256CBC-HS512' | 'A128GCM' | 'A192GCM' | 'A256GCM';
}

/**
 * Encrypts a signed launch to a module (HTI:jwe), as a portal does. `recipient` is the module's
 * JWKS (its `use: enc` key) or a PEM key.
 */
export declare function encryptLaunch(signed: string, recipient: JsonDocument, options?: EncryptOptions): string;

/** The library's one-line description of a status code ("unknown status" for none). */
export declare function statusMessage(code: number): string;

/** The stable name of a status code ("Unknown" for none). */
export declare function statusName(code: number): string;
