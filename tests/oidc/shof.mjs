// A real OAuth 2.0 / OpenID Connect authorization server for the interop tests of the
// "SMART HTI on FHIR" (SHOF) launch of Koppeltaal: panva's oidc-provider as the auth
// server a module is launched through. Started by the Rust test harness on 127.0.0.1.
//
// The flow it serves (authorization code + PKCE, private_key_jwt, RS512):
//   1. a portal launches the module with an HTI launch token (a JWT signed RS512 by the
//      portal: iss = the portal, aud = Device/<module>, sub = the user's FHIR reference,
//      resource = the Task, definition, optionally patient and intent);
//   2. the module sends the browser to GET /auth with response_type=code, client_id,
//      redirect_uri, scope "launch openid fhirUser", state, nonce, code_challenge (S256),
//      launch = the launch token and aud = the FHIR base URL;
//   3. this server verifies the launch token and `aud` (or redirects back with
//      error=invalid_request), the user signs in (the development login of oidc-provider,
//      any name and password; no consent screen), and the browser is redirected to the
//      module's redirect_uri with code, state and iss;
//   4. the module exchanges the code at POST /token (client_assertion signed RS512 with
//      its private key, code_verifier) and receives an access token, an RS512 id_token
//      (sub = the login name, fhirUser = the launch's sub, nonce, aud = client id, azp)
//      and the launch context as top-level members: resource, definition, patient, intent.
//
// Environment:
//   CLIENT_ID      the module's client id                  (default koppeltaal-test-module)
//   CLIENT_JWKS    the module's public JWKS (JSON)          (required in practice)
//   REDIRECT_URI   the module's redirect URI (exact match)  (default http://127.0.0.1/callback)
//   PORTAL_JWKS    the portal's public JWKS (JSON), verifies launch tokens
//   PORTAL_ISSUER  the `iss` launch tokens must carry       (default https://portal.example.org)
//   MODULE_DEVICE  the `aud` launch tokens must carry: "Device/<id>" (a bare "<id>" is
//                  taken as "Device/<id>")                 (default Device/module)
//   FHIR_BASE      the `aud` authorization requests must carry (default <issuer>/fhir)
//   PUBLIC_ISSUER  when set (e.g. https://auth.test), the server sits behind a TLS proxy that
//                  sets X-Forwarded-Proto and Host: this is its issuer and the origin of the
//                  pages browsers see (authorization, sign-in), while the SMART configuration
//                  sends clients to the token, JWKS and userinfo endpoints on the loopback
//                  address it listens on (a back channel, as an internal route would be)
// Prints "READY <issuer> <fhir_base>" on stdout once it accepts connections.
//
// Besides oidc-provider's own endpoints (/.well-known/openid-configuration, /auth,
// /interaction/<uid>, /token, /jwks, /me) it serves the SMART configuration at
// /.well-known/smart-configuration and at <fhir_base path>/.well-known/smart-configuration
// (by default /fhir/.well-known/smart-configuration), since clients discover it from the
// FHIR base URL.

import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
// `jose` is oidc-provider's own JOSE library (a dependency of it, installed at
// node_modules/jose by `npm ci` from the lockfile).
import { createLocalJWKSet, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';

const clientId = process.env.CLIENT_ID ?? 'koppeltaal-test-module';
const clientJwks = JSON.parse(process.env.CLIENT_JWKS ?? '{"keys":[]}');
const redirectUri = process.env.REDIRECT_URI ?? 'http://127.0.0.1/callback';
const portalJwks = createLocalJWKSet(JSON.parse(process.env.PORTAL_JWKS ?? '{"keys":[]}'));
const portalIssuer = process.env.PORTAL_ISSUER ?? 'https://portal.example.org';
const moduleDevice = (() => {
  const device = process.env.MODULE_DEVICE ?? 'Device/module';
  return device.startsWith('Device/') ? device : `Device/${device}`;
})();

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'provider-rs512', use: 'sig', alg: 'RS512' };
const clientAuthAlgorithms = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

// The launch context (the verified launch token's claims) of each authorization code and
// access token still usable, by the token's value (for oidc-provider's opaque tokens the
// value is the model's jti). Entries are dropped after 10 minutes (codes live 60 s).
const launches = new Map();
const remember = (value, claims) => {
  launches.set(value, claims);
  setTimeout(() => launches.delete(value), 10 * 60 * 1000).unref();
};
// The members of the launch token copied to the token response (when present).
const CONTEXT_MEMBERS = ['resource', 'definition', 'patient', 'intent'];

const trimSlash = (url) => (url.endsWith('/') ? url.slice(0, -1) : url);

// Verifies an HTI launch token: RS512 signature by one of the portal's keys, iss, aud =
// this module's Device, exp (required; no clock tolerance), sub and resource present.
// Any failure is an OAuth `invalid_request`: oidc-provider then redirects the browser to
// the (already validated) redirect_uri with error=invalid_request&error_description=...
async function verifyLaunch(launch) {
  if (typeof launch !== 'string' || !launch) {
    throw new errors.InvalidRequest('launch parameter is required (an HTI launch token)');
  }
  try {
    const { payload } = await jwtVerify(launch, portalJwks, {
      algorithms: ['RS512'],
      issuer: portalIssuer,
      audience: moduleDevice,
      requiredClaims: ['exp', 'sub', 'resource'],
    });
    if (typeof payload.sub !== 'string' || typeof payload.resource !== 'string') {
      throw new errors.InvalidRequest('invalid launch: sub and resource must be strings');
    }
    return payload;
  } catch (error) {
    if (error instanceof errors.OIDCProviderError) throw error;
    let reason;
    if (error instanceof joseErrors.JWTExpired) reason = 'launch token is expired';
    else if (error instanceof joseErrors.JWTClaimValidationFailed) reason = `launch token ${error.claim} claim check failed (${error.message})`;
    else if (error instanceof joseErrors.JWSSignatureVerificationFailed) reason = 'launch token signature verification failed';
    else if (error instanceof joseErrors.JWKSNoMatchingKey) reason = 'launch token is not signed by a portal key';
    else reason = `launch token is invalid (${error.code ?? error.message})`;
    throw new errors.InvalidRequest(reason);
  }
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const backChannel = `http://127.0.0.1:${port}`;
  const issuer = trimSlash(process.env.PUBLIC_ISSUER ?? backChannel);
  const fhirBase = trimSlash(process.env.FHIR_BASE ?? `${backChannel}/fhir`);

  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS512',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [redirectUri],
      jwks: clientJwks,
      id_token_signed_response_alg: 'RS512',
    }],
    jwks: { keys: [signingKey] },
    enabledJWA: {
      clientAuthSigningAlgValues: clientAuthAlgorithms,
      idTokenSigningAlgValues: ['RS512'],
    },
    routes: {
      authorization: '/auth', token: '/token', jwks: '/jwks', userinfo: '/me',
    },
    responseTypes: ['code'],
    pkce: { required: () => true }, // S256 is the only method oidc-provider 9 supports
    scopes: ['openid', 'launch', 'fhirUser'],
    // Scope -> claims released. `azp` is listed so that it passes the scope mask; the
    // account only returns it for the id_token (see findAccount).
    claims: { openid: ['sub', 'azp'], fhirUser: ['fhirUser'] },
    // Put the claims of every granted scope in the id_token (not only in userinfo).
    conformIdTokenClaims: false,
    // `launch` and `aud` are accepted on the authorization endpoint and checked there
    // (they are stored with the interaction, so they are available again at /auth/<uid>).
    extraParams: {
      async launch(ctx, value) {
        await verifyLaunch(value);
      },
      async aud(ctx, value) {
        if (typeof value !== 'string' || !value) {
          throw new errors.InvalidRequest('aud parameter is required (the FHIR base URL)');
        }
        if (trimSlash(value) !== fhirBase) {
          throw new errors.InvalidRequest(`aud must be the FHIR base URL ${fhirBase}`);
        }
      },
    },
    // The account: its id is the name typed in the development login form (= the
    // id_token's `sub`); its fhirUser is the `sub` of the launch the token was issued for.
    async findAccount(ctx, accountId, token) {
      return {
        accountId,
        async claims(use) {
          const launch = token ? launches.get(token.jti) : undefined;
          return {
            sub: accountId,
            ...(launch ? { fhirUser: launch.sub } : {}),
            ...(use === 'id_token' ? { azp: ctx.oidc.client.clientId } : {}),
          };
        },
      };
    },
    // No consent screen: the module is a first-party client of the launch, so the grant is
    // made (or extended) with the requested scopes as soon as the user has signed in.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      const grant = (grantId && await ctx.oidc.provider.Grant.find(grantId))
        || new ctx.oidc.provider.Grant({
          clientId: ctx.oidc.client.clientId,
          accountId: ctx.oidc.session.accountId,
        });
      grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
      if (ctx.oidc.requestParamClaims.size) grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: true }, // GET/POST /interaction/<uid>: any login, any password
      userinfo: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
    },
  });

  // The SMART configuration (SMART App Launch 2, .well-known/smart-configuration).
  const smartConfiguration = {
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${backChannel}/token`,
    jwks_uri: `${backChannel}/jwks`,
    userinfo_endpoint: `${backChannel}/me`,
    grant_types_supported: ['authorization_code'],
    response_types_supported: ['code'],
    scopes_supported: ['openid', 'fhirUser', 'launch'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: clientAuthAlgorithms,
    id_token_signing_alg_values_supported: ['RS512'],
    code_challenge_methods_supported: ['S256'],
    capabilities: [
      'launch-ehr',
      'context-ehr-hti',
      'client-confidential-asymmetric',
      'sso-openid-connect',
    ],
  };
  const smartPaths = new Set(['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']);
  if (new URL(fhirBase).origin === backChannel) {
    smartPaths.add(`${trimSlash(new URL(fhirBase).pathname)}/.well-known/smart-configuration`);
  }

  // Koa middleware around all of oidc-provider's routes.
  //
  // - The SMART configuration is answered here, before the provider's router.
  // - Launch context into the token response: oidc-provider has no option for extra members
  //   of the token response, so
  //   (a) after /auth or /auth/<uid> (the resume after the login) has issued a code, the
  //       provider's context holds the AuthorizationCode entity and the request parameters,
  //       among them `launch` (verified by extraParams.launch at /auth; at /auth/<uid> the
  //       parameters come from the server-side interaction, not from the browser, so
  //       decoding it again is enough): the launch claims are remembered under the code's
  //       value (the opaque code is its jti);
  //   (b) after a successful authorization_code grant at /token, the response body is
  //       still a JS object (Koa serialises it only after all middleware has returned):
  //       resource, definition, patient and intent of the code's launch are added as
  //       top-level members, and the launch is remembered under the access token too (so
  //       that /me can release fhirUser). A refused exchange (wrong code_verifier, code
  //       used twice, ...) is a 400 and is left alone.
  //   findAccount reads the same map (token.jti) to put fhirUser in the id_token.
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && smartPaths.has(ctx.path)) {
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'application/json';
      ctx.body = smartConfiguration;
      return;
    }

    await next();

    const route = ctx.oidc?.route;
    if ((route === 'authorization' || route === 'resume') && ctx.oidc.entities.AuthorizationCode) {
      const launch = ctx.oidc.params?.launch;
      if (typeof launch === 'string') {
        remember(ctx.oidc.entities.AuthorizationCode.jti, decodeJwt(launch));
      }
    } else if (route === 'token' && ctx.status === 200 && ctx.oidc.params?.grant_type === 'authorization_code') {
      const code = ctx.oidc.entities.AuthorizationCode;
      const launch = code ? launches.get(code.jti) : undefined;
      if (launch && ctx.body && typeof ctx.body === 'object') {
        launches.delete(code.jti);
        for (const member of CONTEXT_MEMBERS) {
          if (launch[member] !== undefined) ctx.body[member] = launch[member];
        }
        if (typeof ctx.body.access_token === 'string') remember(ctx.body.access_token, launch);
      }
    }
  });

  // Behind a TLS proxy: X-Forwarded-Proto makes its cookies Secure and its URLs https.
  provider.proxy = issuer !== backChannel;
  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  server.on('request', provider.callback());
  console.log(`READY ${issuer} ${fhirBase}`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
