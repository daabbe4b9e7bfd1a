// A real OAuth 2.0 authorization server for the interop tests: panva's oidc-provider,
// configured as a SMART Backend Services server (client_credentials, private_key_jwt,
// RS512 access tokens, introspection). Started by the Rust test harness on 127.0.0.1.
//
// Environment:
//   CLIENT_ID     the registered client id
//   CLIENT_JWKS   the client's public JWKS (JSON)
//   TOKEN_FORMAT  "jwt" (RS512 JWT access tokens) or "opaque" (introspectable)
//   RESOURCE      the audience of the access tokens
// Prints "READY <issuer>" on stdout once it accepts connections.

import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const clientId = process.env.CLIENT_ID ?? 'koppeltaal-test-client';
const clientJwks = JSON.parse(process.env.CLIENT_JWKS ?? '{"keys":[]}');
const format = process.env.TOKEN_FORMAT ?? 'jwt';
const resource = process.env.RESOURCE ?? 'https://fhir.example.org';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'provider-rs512', use: 'sig', alg: 'RS512' };
const algorithms = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS512',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      jwks: clientJwks,
      id_token_signed_response_alg: 'RS512',
    }],
    jwks: { keys: [signingKey] },
    enabledJWA: {
      clientAuthSigningAlgValues: algorithms,
      idTokenSigningAlgValues: ['RS512'],
    },
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'system/Task.read system/Patient.read',
          audience: resource,
          accessTokenFormat: format,
          jwt: { sign: { alg: 'RS512' } },
        }),
      },
    },
  });
  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  server.on('request', provider.callback());
  console.log(`READY ${issuer}`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
