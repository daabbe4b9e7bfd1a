// The ES module entry: the same exports as index.js.
import koppeltaal from './index.js';

export const {
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
} = koppeltaal;
export default koppeltaal;
