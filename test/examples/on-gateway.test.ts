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
${ingress('secure', '/secure')}${ingress('keys', '/keys')}${ingress('block', '/block')}${ingress('cors', '/cors')}${ingress('inner', '/inner')}${ingress('rewrite', '/rewrite')}
${plugin('ext-auth', 'AUTHN', 360, 'default/secure', {
    http_service: { endpoint_mode: 'envoy', endpoint: { service_name: 'auth.static', service_port: 80, path_prefix: '/check' }, authorization_response: { allowed_upstream_headers: [{ exact: 'x-user-id' }] } },
  })}${plugin('key-auth', 'AUTHN', 310, 'default/keys', { consumers: [{ credential: 'k1', name: 'alice' }], keys: ['x-api-key'] })}${plugin('custom-response', 'AUTHN', 400, 'default/keys', { enable_on_status: [401], status_code: 401, body: '{"error":"api key required"}' })}${plugin('request-block', 'AUTHZ', 320, 'default/block', { block_urls: ['swagger'], block_bodies: ['drop table'], case_sensitive: false })}${plugin('cors', 'UNSPECIFIED_PHASE', 340, 'default/cors', { allow_origins: ['http://app.example.com'], allow_methods: ['GET', 'POST'], allow_headers: ['Authorization'], max_age: 600 })}${plugin('ip-restriction', 'AUTHZ', 210, 'default/inner', { ip_source_type: 'origin-source', deny: ['127.0.0.0/8'], status: 403, message: 'your ip address is blocked.' })}${plugin('response-body-rewrite', 'UNSPECIFIED_PHASE', 10, 'default/rewrite', { rules: [{ pattern: 'http://internal\\.svc', replace: 'https://api.example.com' }], content_types: ['application/json'] })}`);
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

test('on the gateway, cors answers a preflight itself and adds the allow-origin header to real requests', async () => {
  const pre = await fetchText(`${gw.url}/cors/x`, { method: 'OPTIONS', headers: { origin: 'http://app.example.com', 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers['access-control-allow-origin'], 'http://app.example.com');
  assert.equal(pre.headers['x-upstream'], undefined, 'the preflight never reaches the upstream');
  const real = await echo(`${gw.url}/cors/x`, { headers: { origin: 'http://app.example.com' } });
  assert.equal(real.status, 200);
  assert.equal(real.respHeaders['access-control-allow-origin'], 'http://app.example.com');
});

test('on the gateway, ip-restriction denies the peer address the gateway saw', async () => {
  const denied = await fetchText(`${gw.url}/inner/x`);
  assert.equal(denied.status, 403);
  assert.match(denied.text, /your ip address is blocked/);
  assert.equal((await echo(`${gw.url}/block/x`)).status, 200, 'other routes are not restricted');
});

test('on the gateway, response-body-rewrite rewrites the upstream JSON body', async () => {
  const r = await fetchText(`${gw.url}/rewrite/x`, { headers: { 'x-link': 'http://internal.svc/users' } });
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.text).headers['x-link'], 'https://api.example.com/users');
  // A body of unknown length (chunked) ends with an empty end-of-stream call instead of a last chunk.
  const chunked = await fetchText(`${gw.url}/rewrite/x?chunked=1`, { headers: { 'x-link': 'http://internal.svc/teams' } });
  assert.equal(chunked.status, 200);
  assert.equal(chunked.headers['content-length'], undefined);
  assert.equal(JSON.parse(chunked.text).headers['x-link'], 'https://api.example.com/teams');
});
