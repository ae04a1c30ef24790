// The Bearer token flow sends the user's registry credentials to the token service the registry
// names in its challenge (`realm`). A registry must not be able to send them to another host:
// the realm is followed only on the registry's own host unless the user allows that host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fetchPlugin } from '../../runtime/oci/plugin-fetcher.js';

const PASSWORD = 'bearer-realm-passw0rd';
let registry: http.Server;
let tokens: http.Server;
let tokenHits: Array<{ auth?: string }> = [];
let registryPort = 0;
let tokenPort = 0;
let cache = '';

before(async () => {
  tokens = http.createServer((req, res) => { tokenHits.push({ auth: req.headers.authorization }); res.end(JSON.stringify({ token: 't' })); });
  await new Promise<void>((r) => tokens.listen(0, '127.0.0.1', r));
  tokenPort = (tokens.address() as AddressInfo).port;
  // The registry is 127.0.0.1; its challenge points at "localhost" — another host name.
  registry = http.createServer((req, res) => {
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://localhost:${tokenPort}/token",service="proof"`, 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  registryPort = (registry.address() as AddressInfo).port;
  cache = await mkdtemp(join(tmpdir(), 'bearer-'));
});

after(async () => {
  for (const s of [registry, tokens]) { s.closeAllConnections(); await new Promise<void>((r) => s.close(() => r())); }
  await rm(cache, { recursive: true, force: true });
});

test('a Bearer realm on a different host is not followed: the credentials never leave for it', async () => {
  tokenHits = [];
  const err = await fetchPlugin(`oci://127.0.0.1:${registryPort}/plugins/x:1.0.0`, { cacheDir: cache, credentials: { username: 'u', password: PASSWORD } })
    .then(() => undefined, (e: Error & { code: string }) => e);
  assert.ok(err, 'the pull fails');
  assert.match(err.message, /localhost/, 'the error names the realm host it refused');
  assert.equal(tokenHits.filter((h) => h.auth).length, 0, 'no credentials were sent to the other host');
  assert.equal(err.message.includes(PASSWORD), false);
});

test('a realm host the user allows is followed', async () => {
  tokenHits = [];
  process.env.HIGRESS_PLUGIN_ALLOWED_REALM_HOSTS = 'localhost';
  try {
    await fetchPlugin(`oci://127.0.0.1:${registryPort}/plugins/x:1.0.0`, { cacheDir: cache, credentials: { username: 'u', password: PASSWORD } }).catch(() => undefined);
    assert.ok(tokenHits.length >= 1, 'the allowed token service was asked');
  } finally {
    delete process.env.HIGRESS_PLUGIN_ALLOWED_REALM_HOSTS;
  }
});
