// A real OpenID Connect provider (npm oidc-provider) on loopback for the
// OAuth tests. Started by tests/support/oidc_provider.py with one argument,
// a JSON object:
//   {"clients": [<client metadata>...], "access_token_ttl_s": 3600}
// Prints one JSON line on stdout once it answers (issuer, admin secret) and
// nothing else there. It exits on SIGTERM/SIGINT and as soon as its stdin
// closes, so a test process that dies without cleaning up does not leave it
// running.
//
// Besides the provider's own endpoints it serves two routes for the tests,
// both behind "Authorization: Bearer <admin_secret>":
//   POST /__test/revoke-grants  revokes every grant and all of its tokens
//                               (what a user removing the app's access does)
//   GET  /__test/stats          {"token_requests": {<grant_type>: n}}: every
//                               request that reached the token endpoint,
//                               successful or not

import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { generateKeyPair, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';

// stdout carries the ready line only: the library prints its notices with
// console.info, and a second line there would be read as a protocol message.
console.log = console.error;
console.info = console.error;

function fail(message) {
  process.stderr.write(`oidc test provider: ${message}\n`);
  process.exit(2);
}

// oidc-provider 9 calls URL.parse and crypto.hash, which arrived in Node.js
// 20.18; on an older node it fails later, in the middle of a request.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 18)) {
  fail(`oidc-provider 9 needs Node.js 20.18 or newer, this is ${process.version} (Debian 12's nodejs is 18: install a newer one, e.g. from NodeSource)`);
}

let options;
try {
  options = JSON.parse(process.argv[2] ?? '');
} catch (error) {
  fail(`expected one JSON argument: ${error.message}`);
}
const clients = options.clients ?? [];
const accessTokenTtl = Number(options.access_token_ttl_s ?? 3600);
if (!Number.isInteger(accessTokenTtl) || accessTokenTtl < 1) {
  fail(`access_token_ttl_s must be a positive integer, got ${options.access_token_ttl_s}`);
}

// A signing key of this run only, instead of the library's well-known
// development key. RSA because RS256 is what clients expect by default;
// generating one takes 0.1-0.4 s, so it runs on the thread pool while the
// library loads.
const signingKeyPair = promisify(generateKeyPair)('rsa', { modulusLength: 2048 });

// The package is installed next to this script by scripts/test (npm ci). It
// is resolved explicitly so that a missing install fails with a message that
// says what to run, not with a bare ERR_MODULE_NOT_FOUND.
let Provider;
try {
  const resolved = createRequire(import.meta.url).resolve('oidc-provider');
  ({ default: Provider } = await import(pathToFileURL(resolved).href));
} catch (error) {
  fail(`oidc-provider is not installed (run ./scripts/test, or npm ci in ${new URL('.', import.meta.url).pathname}): ${error.message}`);
}

const adminSecret = randomBytes(32).toString('base64url');

// Listen first: the issuer must carry the real port, which port 0 only
// reveals once the socket is bound.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
// A test that puts a proxy in front (to take the provider "offline" and back)
// names the proxy's port: the issuer, and so every endpoint, is the proxy's.
const publicPort = Number(options.public_port ?? port);
const issuer = `http://127.0.0.1:${publicPort}`;

const { privateKey } = await signingKeyPair;
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // Any login name is an account, and its id is that name.
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: id,
          preferred_username: id,
          email: `${id}@example.test`,
          email_verified: true,
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  pkce: { required: () => true },
  issueRefreshToken: async (ctx, client, code) => (
    client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access')
  ),
  rotateRefreshToken: true,
  // Expiry tests need tokens to die exactly when their exp says.
  clockTolerance: 0,
  ttl: { AccessToken: accessTokenTtl },
});

// Every grant ever saved, so that the admin route can revoke them all: the
// built-in store cannot be listed.
const grantIds = new Set();
provider.on('grant.saved', (grant) => grantIds.add(grant.jti));
provider.on('grant.destroyed', (grant) => grantIds.delete(grant.jti));
provider.on('grant.revoked', (ctx, grantId) => grantIds.delete(grantId));

const tokenRequests = {};

function authorised(ctx) {
  const given = Buffer.from(ctx.get('authorization'));
  const expected = Buffer.from(`Bearer ${adminSecret}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function revokeAllGrants() {
  const ids = [...grantIds];
  for (const id of ids) {
    await Promise.all([
      provider.AccessToken.revokeByGrantId(id),
      provider.RefreshToken.revokeByGrantId(id),
      provider.AuthorizationCode.revokeByGrantId(id),
      provider.DeviceCode.revokeByGrantId(id),
    ]);
    await provider.Grant.adapter.destroy(id);
    grantIds.delete(id);
  }
  return ids.length;
}

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/__test/')) {
    if (!authorised(ctx)) {
      ctx.status = 401;
      ctx.body = { error: 'admin secret required' };
    } else if (ctx.method === 'POST' && ctx.path === '/__test/revoke-grants') {
      ctx.body = { revoked: await revokeAllGrants() };
    } else if (ctx.method === 'GET' && ctx.path === '/__test/stats') {
      ctx.body = { token_requests: tokenRequests };
    } else {
      ctx.status = 404;
      ctx.body = { error: 'no such test route' };
    }
    return;
  }
  try {
    await next();
  } finally {
    // Counted after the provider has parsed the body, failures included: a
    // refresh that was refused still reached the provider.
    if (ctx.oidc?.route === 'token') {
      const grantType = String(ctx.oidc.body?.grant_type ?? 'unknown');
      tokenRequests[grantType] = (tokenRequests[grantType] ?? 0) + 1;
    }
  }
});

server.on('request', provider.callback());

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent holds our stdin open for as long as it wants us; end of file
// means it has gone.
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
process.stdin.resume();

process.stdout.write(`${JSON.stringify({
  ready: true,
  issuer,
  port,
  pid: process.pid,
  admin_secret: adminSecret,
  access_token_ttl_s: accessTokenTtl,
  oidc_provider_version: createRequire(import.meta.url)('oidc-provider/package.json').version,
})}\n`);
