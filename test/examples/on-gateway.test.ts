// The example plugins in the real gateway: WasmPlugin + Ingress + McpBridge config, real HTTP
// on loopback, a real authorization service for ext-auth's http_call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { configDir, echo, echoServer, fetchText, gateway, ingressToUp, QUIET, wasmPluginOnRoutes } from '../gateway/helpers.js';

const wasmUrl = (name: string) => pathToFileURL(join(PACKAGE_ROOT, 'examples', name, 'build', 'plugin.wasm')).href;
type Server = Awaited<ReturnType<typeof echoServer>>;
let up: Server;
let auth: Server;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;

const ingress = ingressToUp;
const plugin = (name: string, phase: string, priority: number, route: string, config: object) =>
  wasmPluginOnRoutes({ name, url: wasmUrl(name), phase, priority, routes: [route], config });

before(async () => {
  up = await echoServer('up');
  // The authorization service: "Bearer good" passes (and names the user), anything else gets 401.
  auth = await echoServer('auth', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.headers.authorization === 'Bearer good') res.writeHead(200, { 'x-user-id': 'u-1' }).end();
    else res.writeHead(401, { 'x-auth-failed': 'true' }).end(`no access to ${req.url}`);
  });
  dir = await configDir();
  await dir.write('all.yaml', `apiVersion: networking.higress.io/v1
kind: McpBridge
metadata: { name: default, namespace: higress-system }
spec:
  registries:
    - { type: static, name: up, domain: "127.0.0.1:${up.port}" }
    - { type: static, name: auth, domain: "127.0.0.1:${auth.port}" }
${ingress('secure', '/secure')}${ingress('keys', '/keys')}${ingress('block', '/block')}
${plugin('ext-auth', 'AUTHN', 360, 'default/secure', {
    http_service: { endpoint_mode: 'envoy', endpoint: { service_name: 'auth.static', service_port: 80, path_prefix: '/check' }, authorization_response: { allowed_upstream_headers: [{ exact: 'x-user-id' }] } },
  })}${plugin('key-auth', 'AUTHN', 310, 'default/keys', { consumers: [{ credential: 'k1', name: 'alice' }], keys: ['x-api-key'] })}${plugin('custom-response', 'AUTHN', 400, 'default/keys', { enable_on_status: [401], status_code: 401, body: '{"error":"api key required"}' })}${plugin('request-block', 'AUTHZ', 320, 'default/block', { block_urls: ['swagger'], block_bodies: ['drop table'], case_sensitive: false })}`);
  await dir.write('settings.yaml', QUIET);
  gw = await gateway([dir.dir]);
});

after(async () => {
  await gw?.close();
  await up?.close();
  await auth?.close();
  await dir?.remove();
});

test('on the gateway, ext-auth asks the real authorization service and forwards its user header', async () => {
  const ok = await echo(`${gw.url}/secure/x`, { headers: { authorization: 'Bearer good' } });
  assert.equal(ok.status, 200);
  assert.equal(ok.name, 'up');
  assert.equal(ok.headers['x-user-id'], 'u-1');
  const denied = await fetchText(`${gw.url}/secure/x`, { headers: { authorization: 'Bearer bad' } });
  assert.equal(denied.status, 401);
  assert.equal(denied.text, 'no access to /check/secure/x');
  assert.equal(denied.headers['x-auth-failed'], 'true');
});

// custom-response must run before key-auth (same phase, higher priority) to see key-auth's local reply.
test('on the gateway, key-auth names the consumer and custom-response rewrites its 401', async () => {
  const ok = await echo(`${gw.url}/keys`, { headers: { 'x-api-key': 'k1' } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['x-mse-consumer'], 'alice');
  assert.equal(ok.headers['x-api-key'], 'k1');
  const missing = await fetchText(`${gw.url}/keys`);
  assert.equal(missing.status, 401);
  assert.equal(missing.text, '{"error":"api key required"}');
});

test('on the gateway, request-block blocks by URL and by request body', async () => {
  assert.equal((await fetchText(`${gw.url}/block/Swagger.html`)).status, 403);
  assert.equal((await fetchText(`${gw.url}/block/x`, { method: 'POST', body: 'please DROP TABLE users' })).status, 403);
  const fine = await echo(`${gw.url}/block/x`, { method: 'POST', body: 'hello' });
  assert.equal(fine.status, 200);
});
