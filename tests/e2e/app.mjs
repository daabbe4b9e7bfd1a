// The module application behind the gateway, as a vendor would write it: it takes verified
// launches from `koppeltaal serve --upstream` (POST /koppeltaal/launch, HMAC-signed with the
// shared secret), starts a session with a cookie and redirects into its UI (GET /app), which
// shows who is signed in and for what. GET /launches answers how many launches it has taken.
//
// Environment: UPSTREAM_SECRET (a file), PORT (0: any; prints "READY <port>").

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const secret = readFileSync(process.env.UPSTREAM_SECRET).toString().trim();
const sessions = new Map(); // session id -> who and what
const deliveries = new Set(); // delivery ids seen: the signature alone does not stop a replay
let launches = 0;

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>` +
  '<style>body{font-family:sans-serif;margin:3em;max-width:40em}dt{font-weight:bold}</style></head>' +
  `<body><h1>${escape(title)}</h1>${body}</body></html>`;

function verified(request, body) {
  const signature = request.headers['x-koppeltaal-signature'] ?? '';
  const fields = Object.fromEntries(signature.split(',').map((part) => part.split('=', 2)));
  const delivery = request.headers['x-koppeltaal-delivery'] ?? '';
  const signed = Buffer.concat([
    Buffer.from(`${fields.t}.${delivery}.${request.headers['x-forwarded-for'] ?? ''}.`),
    body,
  ]);
  const expected = createHmac('sha256', secret).update(signed).digest();
  const given = Buffer.from(fields.v1 ?? '', 'hex');
  const fresh = Math.abs(Date.now() / 1000 - Number(fields.t)) <= 60;
  return given.length === expected.length && timingSafeEqual(given, expected) && fresh && !deliveries.has(delivery)
    ? delivery
    : null;
}

function cookie(request, name) {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks);
    if (request.method === 'POST' && request.url === '/koppeltaal/launch') {
      const delivery = verified(request, body);
      if (!delivery) {
        response.writeHead(403, { 'Content-Type': 'text/plain' }).end('not from the gateway');
        return;
      }
      deliveries.add(delivery);
      launches += 1;
      const launch = JSON.parse(body);
      const session = randomBytes(16).toString('hex');
      // A HTI launch carries the claims; a SHOF launch the person and the context.
      sessions.set(session, {
        user: launch.person?.fhirUser ?? launch.sub,
        signedInAs: launch.person?.sub,
        resource: launch.context?.resource ?? launch.resource,
      });
      response.writeHead(303, {
        Location: '/app',
        // The session cookie a browser keeps only over TLS, away from scripts.
        'Set-Cookie': `app_session=${session}; Path=/; Secure; HttpOnly; SameSite=Lax`,
      });
      response.end();
      return;
    }
    if (request.method === 'GET' && request.url === '/app') {
      const session = sessions.get(cookie(request, 'app_session'));
      if (!session) {
        response.writeHead(401, { 'Content-Type': 'text/html' }).end(page('Not signed in', '<p>No session.</p>'));
        return;
      }
      response.writeHead(200, { 'Content-Type': 'text/html' }).end(
        page(
          'Signed in to the module',
          `<dl><dt>User</dt><dd id="user">${escape(session.user)}</dd>` +
            (session.signedInAs ? `<dt>Signed in as</dt><dd id="login">${escape(session.signedInAs)}</dd>` : '') +
            `<dt>Task</dt><dd id="resource">${escape(session.resource)}</dd></dl>`,
        ),
      );
      return;
    }
    if (request.method === 'GET' && request.url === '/launches') {
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ launches }));
      return;
    }
    response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`READY ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
