// The README's example: a portal's launch verified once, then refused as a replay (600).
import { generateKey, jwksFromPem, launchToken, KoppeltaalError, Verifier } from 'koppeltaal';

const pem = generateKey('RS512'); // the portal's key; a module gets only its JWKS
const token = launchToken(pem, { issuer: 'https://portal.example.org', audience: 'Device/42', sub: 'Patient/1',
  resource: 'Task/11', definition: 'https://module.example.org/ActivityDefinition/1' });
const verifier = new Verifier(jwksFromPem(pem), { issuer: 'https://portal.example.org', audience: 'Device/42' });
console.log(verifier.verify(token).resource); // Task/11
try {
  verifier.verify(token);
} catch (error) {
  if (error instanceof KoppeltaalError) console.log(error.code, error.name); // 600 Replayed
}
