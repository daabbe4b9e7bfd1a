// Compiled (never run) by `npm run typecheck`: the declarations in index.d.ts accept the
// documented use and reject misuse (each @ts-expect-error fails the check if it compiles).
import { clientAssertion, encryptLaunch, generateKey, jwksFromPem, KoppeltaalError, launchToken, Verifier } from 'koppeltaal';
import type { LaunchClaims } from 'koppeltaal';

const pem: string = generateKey('ES256', 2048);
const verifier = new Verifier(jwksFromPem(pem), { issuer: 'https://p.example', audience: 'Device/1', algorithms: ['ES256'] });
const token = launchToken(pem, { issuer: 'https://p.example', audience: 'Device/1', sub: 'Patient/1', resource: 'Task/1', definition: 'https://m/AD/1' });
const claims: LaunchClaims = verifier.verify(token, { now: 1_700_000_000 });
const patient: string | undefined = claims.patient;
const later: Promise<LaunchClaims> = verifier.verifyAsync(new Uint8Array(8));
const assertion: string = clientAssertion(pem, { clientId: 'c', tokenEndpoint: 'https://auth/token' });
const encrypted: string = encryptLaunch(token, { keys: [] }, { keyAlgorithm: 'RSA-OAEP-256', contentEncryption: 'A256GCM' });
try {
  verifier.verify(token);
} catch (error) {
  if (error instanceof KoppeltaalError) {
    const code: number = error.code;
    const name: string = error.name;
    void [code, name];
  }
}
verifier.useRedis('redis://127.0.0.1:6379/0');
verifier.useRedis('rediss+sentinel://s1:26379,s2:26379/mymaster', { caFile: '/etc/ca.pem', minReplicas: 1, checkNow: true });
verifier.close();
void [patient, later, assertion, encrypted];

// @ts-expect-error the audience is required
new Verifier('{}', { issuer: 'https://p.example' });
// @ts-expect-error HMAC is not an algorithm of this library
verifier.allowAlgorithm('HS256');
// @ts-expect-error a launch needs its definition
launchToken(pem, { issuer: 'i', audience: 'a', sub: 's', resource: 'r' });
// @ts-expect-error the claims are not a string
const wrong: string = verifier.verify(token);
void wrong;
