// What a plugin cannot do, proven through the real gateway: read the gateway's environment, open
// files, import sockets, reach hosts by http_call that the config does not define, or rewrite
// what later plugins see as the request path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { faultPlugin } from '../fault-plugins/fault-plugins.js';
import { gateway, send, tempDir, upstream, type TestGateway, type Upstream } from '../faults/harness.js';

let up: Upstream;
let secretServer: http.Server;
let secretHits = 0;
let secretPort = 0;
let dir: Awaited<ReturnType<typeof tempDir>>;
let gw: TestGateway;
const SECRET_ENV = 'PROOF_GATEWAY_SECRET_TOKEN';

before(async () => {
  process.env[SECRET_ENV] = 'do-not-leak';
  up = await upstream();
  // A service on this machine that no config names: plugins must not be able to reach it.
  secretServer = http.createServer((_req, res) => { secretHits++; res.end('secret'); });
  await new Promise<void>((r) => secretServer.listen(0, '127.0.0.1', r));
  secretPort = (secretServer.address() as AddressInfo).port;
  dir = await tempDir('sandbox-');
  const env = await faultPlugin(dir.dir, 'environment-probe');
  const files = await faultPlugin(dir.dir, 'file-probe');
  const toSecret = await faultPlugin(dir.dir, 'http-call-unknown-cluster', { cluster: `127.0.0.1:${secretPort}` }, 'call-secret.wasm');
  const toKnown = await faultPlugin(dir.dir, 'http-call-unknown-cluster', { cluster: 'outbound|80||up.svc' }, 'call-known.wasm');
  const setPath = await faultPlugin(dir.dir, 'set-property-request-path');
  const readPath = await faultPlugin(dir.dir, 'read-request-path');
  const only = (route: string) => `configDisable: true, rules: [{ routes: [default/${route}] }]`;
  await dir.write('gw.yaml', `settings: { accessLog: "off" }
services: [{ name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }]
routes:
  - { name: default/env-none, path: /env-none, service: up.svc }
  - { name: default/env-one, path: /env-one, service: up.svc }
  - { name: default/files, path: /files, service: up.svc }
  - { name: default/call-secret, path: /call-secret, service: up.svc }
  - { name: default/call-known, path: /call-known, service: up.svc }
  - { name: default/property, path: /property, service: up.svc }
plugins:
  - { name: env-none, url: "${env}", ${only('env-none')} }
  - { name: env-one, url: "${env}", env: { GREETING: hello }, ${only('env-one')} }
  - { name: files, url: "${files}", ${only('files')} }
  - { name: call-secret, url: "${toSecret}", ${only('call-secret')} }
  - { name: call-known, url: "${toKnown}", ${only('call-known')} }
  - { name: a-set-path, url: "${setPath}", phase: AUTHN, ${only('property')} }
  - { name: b-read-path, url: "${readPath}", ${only('property')} }
`);
  gw = await gateway([`${dir.dir}/gw.yaml`]);
});

after(async () => {
  delete process.env[SECRET_ENV];
  await gw?.close();
  await up?.close();
  await new Promise<void>((r) => secretServer.close(() => r()));
  await dir?.remove();
});

const FAULT = { 'x-fault': '1' };
const lastSeen = (name: string) => up.seen.at(-1)!.headers[name];

test('a plugin sees no environment variable of the gateway process, only the ones its config gives it', async () => {
  assert.equal((await send(`${gw.url}/env-none`, { headers: FAULT })).status, 200);
  assert.equal(lastSeen('x-result'), 'A', 'zero variables without env config (the gateway has hundreds, including a secret)');
  assert.equal((await send(`${gw.url}/env-one`, { headers: FAULT })).status, 200);
  assert.equal(lastSeen('x-result'), 'B', 'exactly the one configured variable');
});

test('a plugin cannot open files or read stdin: path_open and fd_read answer EBADF', async () => {
  assert.equal((await send(`${gw.url}/files`, { headers: FAULT })).status, 200);
  assert.equal(lastSeen('x-result'), 'II', 'path_open → 8 (EBADF), fd_read(0) → 8 (EBADF)');
});

test('a plugin importing a socket function is refused at load, naming the import', async () => {
  const bad = await tempDir('sandbox-socket-');
  try {
    const url = await faultPlugin(bad.dir, 'socket-import');
    await bad.write('gw.yaml', `settings: { accessLog: "off" }\nservices: [{ name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }]\nroutes: [{ name: default/x, path: /, service: up.svc }]\nplugins: [{ name: sock, url: "${url}" }]\n`);
    await assert.rejects(gateway([`${bad.dir}/gw.yaml`]), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GW_PLUGIN_COMPILE');
      assert.match(err.message, /sock_accept/);
      return true;
    });
  } finally {
    await bad.remove();
  }
});

test('http_call to an address the config does not define is refused (BAD_ARGUMENT) and no connection is made', async () => {
  const before = secretHits;
  assert.equal((await send(`${gw.url}/call-secret`, { headers: FAULT })).status, 200);
  assert.equal(lastSeen('x-result'), 'C');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(secretHits, before, 'the unconfigured service saw no request');
});

test('http_call to a configured cluster is allowed (the control for the test above)', async () => {
  const before = up.seen.length;
  assert.equal((await send(`${gw.url}/call-known`, { headers: FAULT })).status, 200);
  const proxied = up.seen.slice(before).find((x) => x.url === '/call-known');
  assert.equal(proxied?.headers['x-result'], 'A', 'proxy_http_call returned OK');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(up.seen.length >= before + 2, 'the configured cluster received the call');
});

test('a plugin writing the request.path property cannot change what later plugins read as the request path', async () => {
  assert.equal((await send(`${gw.url}/property/real`)).status, 200);
  assert.equal(up.seen.at(-1)!.url, '/property/real', 'the request itself is not rerouted');
  assert.equal(lastSeen('x-seen-path'), '/property/real', 'the next plugin reads the real path, as in Envoy (property writes go to filter state)');
});
