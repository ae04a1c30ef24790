import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { configDir, echo, echoServer, fetchText, gateway, ingressToUp, QUIET, wasmPluginOnRoutes } from './helpers.js';
import { watPlugin } from './wat-plugins.js';

const example = (name: string) => pathToFileURL(join(PACKAGE_ROOT, 'examples', name, 'build', 'plugin.wasm')).href;
const HELLO = example('hello-world');
type Echo = Awaited<ReturnType<typeof echoServer>>;
let up: Echo;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;

const hello = (name: string, phase: string, priority: number, value: string) =>
  wasmPluginOnRoutes({ name, url: HELLO, phase, priority, routes: ['default/ordered'], config: { header: 'x-order', value } });
const ingress = ingressToUp;
const CORS = {
  'nginx.ingress.kubernetes.io/enable-cors': 'true',
  'nginx.ingress.kubernetes.io/cors-allow-origin': 'https://app.example.com, https://*.trusted.com',
  'nginx.ingress.kubernetes.io/cors-expose-headers': 'x-total',
  'nginx.ingress.kubernetes.io/cors-max-age': '600',
};

before(async () => {
  up = await echoServer('up');
  dir = await configDir();
  const crash = await watPlugin(dir.dir, 'crash');
  const failing = (name: string, strategy: string, route: string) => `---
apiVersion: extensions.higress.io/v1alpha1
kind: WasmPlugin
metadata: { name: ${name}, namespace: higress-system }
spec:
  url: ${crash}
  failStrategy: ${strategy}
  defaultConfigDisable: true
  matchRules: [{ ingress: [${route}] }]
`;
  await dir.write('all.yaml', `apiVersion: networking.higress.io/v1
kind: McpBridge
metadata: { name: default, namespace: higress-system }
spec:
  registries: [{ type: static, name: up, domain: "127.0.0.1:${up.port}" }]
${ingress('ordered', '/ordered')}${ingress('route-a', '/a')}${ingress('route-b', '/b')}${ingress('plain', '/plain')}${ingress('close', '/close')}${ingress('open', '/open')}${ingress('reload', '/reload')}${ingress('xff', '/xff')}${ingress('cors', '/cors', CORS)}
${wasmPluginOnRoutes({ name: 'cors-key-auth', url: example('key-auth'), routes: ['default/cors'], config: { consumers: [{ name: 'web', credential: 'web-key' }], keys: ['x-api-key'] } })}${wasmPluginOnRoutes({ name: 'ip-from-xff', url: example('ip-restriction'), routes: ['default/xff'], config: { ip_source_type: 'header', ip_header_name: 'x-forwarded-for', deny: ['127.0.0.1'] } })}${wasmPluginOnRoutes({ name: 'copy-request-id', url: example('transformer'), routes: ['default/xff'], config: { reqRules: [{ operate: 'map', headers: [{ fromKey: 'x-request-id', toKey: 'x-seen-id' }] }] } })}
${hello('stats-1000', 'STATS', 1000, 'stats')}${hello('authn-10', 'AUTHN', 10, 'authn-10')}${hello('plain-5000', 'UNSPECIFIED_PHASE', 5000, 'none')}${hello('authn-20', 'AUTHN', 20, 'authn-20')}${hello('authz-1', 'AUTHZ', 1, 'authz')}
---
apiVersion: extensions.higress.io/v1alpha1
kind: WasmPlugin
metadata: { name: per-route, namespace: higress-system }
spec:
  url: ${HELLO}
  defaultConfig: { header: x-scope, value: global }
  matchRules:
    - { ingress: [default/route-a], config: { header: x-scope, value: route-a } }
    - { domain: ["*.b.example"], config: { header: x-scope, value: domain-b } }
${failing('fail-close', 'FAIL_CLOSE', 'default/close')}${failing('fail-open', 'FAIL_OPEN', 'default/open')}${failing('fail-reload', 'FAIL_RELOAD', 'default/reload')}`);
  await dir.write('settings.yaml', QUIET);
  gw = await gateway([dir.dir]);
});

after(async () => {
  await gw?.close();
  await up?.close();
  await dir?.remove();
});

test('plugins run in phase order (AUTHN, AUTHZ, STATS, unspecified), higher priority first', async () => {
  const r = await echo(`${gw.url}/ordered`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-order'], 'authn-20, authn-10, authz, stats, none');
});

test('a WasmPlugin config applies per route, per domain, and globally otherwise', async () => {
  assert.equal((await echo(`${gw.url}/a`)).headers['x-scope'], 'route-a');
  assert.equal((await echo(`${gw.url}/b`, { headers: { host: 'x.b.example' } })).headers['x-scope'], 'domain-b');
  assert.equal((await echo(`${gw.url}/b`)).headers['x-scope'], 'global');
  const plain = await echo(`${gw.url}/plain`);
  assert.equal(plain.headers['x-order'], undefined, 'plugins with only rules for other routes do not run');
  assert.equal(plain.respHeaders['x-scope'], 'global', 'response callbacks run too');
});

test('plugins see the x-forwarded-for and x-request-id the gateway adds (as Envoy adds them before its filters)', async () => {
  // ip-restriction reads the first address in x-forwarded-for and denies 127.0.0.1.
  assert.equal((await fetchText(`${gw.url}/xff`)).status, 403, 'no client header: the plugin sees the peer address the gateway appended');
  assert.equal((await fetchText(`${gw.url}/xff`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status, 200);
  const r = await echo(`${gw.url}/xff`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
  assert.equal(r.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  // transformer copied the generated x-request-id while the request passed it.
  assert.match(r.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  assert.equal(r.headers['x-seen-id'], r.headers['x-request-id']);
});

test('Ingress CORS: an allowed preflight is answered before the plugins; answers to allowed origins carry the CORS headers', async () => {
  const preflight = (origin: string) => fetchText(`${gw.url}/cors/items`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
  let r = await preflight('https://app.example.com');
  assert.equal(r.status, 200, 'key-auth did not run: no key, yet no 401');
  assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT, POST, DELETE, PATCH, OPTIONS');
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
  assert.equal(r.headers['access-control-max-age'], '600');
  assert.match(String(r.headers['access-control-allow-headers']), /Authorization/);

  // A plugin's local answer to an allowed origin carries them too, so the browser can read it.
  r = await fetchText(`${gw.url}/cors/items`, { headers: { origin: 'https://a.b.trusted.com' } });
  assert.equal(r.status, 401);
  assert.equal(r.headers['access-control-allow-origin'], 'https://a.b.trusted.com');
  assert.equal(r.headers['access-control-expose-headers'], 'x-total');

  r = await fetchText(`${gw.url}/cors/items`, { headers: { origin: 'https://app.example.com', 'x-api-key': 'web-key' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');

  // Other origins: nothing added, and their preflight goes through the plugins like any request.
  r = await fetchText(`${gw.url}/cors/items`, { headers: { origin: 'https://evil.example', 'x-api-key': 'web-key' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  r = await preflight('https://trusted.com.evil.example');
  assert.equal(r.status, 401);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
});

test('FAIL_CLOSE answers 503 once the plugin traps; the gateway keeps serving other routes', async () => {
  assert.equal((await fetchText(`${gw.url}/close`)).status, 200);
  assert.equal((await fetchText(`${gw.url}/close`, { headers: { 'x-crash': '1' } })).status, 503);
  assert.equal((await fetchText(`${gw.url}/close`)).status, 503, 'a failed VM stays failed');
  assert.equal((await echo(`${gw.url}/plain`)).status, 200);
});

test('FAIL_OPEN skips a trapping plugin and proxies the request', async () => {
  assert.equal((await fetchText(`${gw.url}/open`, { headers: { 'x-crash': '1' } })).status, 200);
  assert.equal((await fetchText(`${gw.url}/open`)).status, 200);
});

test('FAIL_RELOAD answers 503 for the failing stream, then serves from a fresh VM after the backoff', async () => {
  assert.equal((await fetchText(`${gw.url}/reload`, { headers: { 'x-crash': '1' } })).status, 503);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await fetchText(`${gw.url}/reload`)).status, 200);
  const prom = (await fetchText(`${gw.admin}/stats/prometheus`)).text;
  assert.match(prom, /gateway_plugin_vm_reloads_total\{plugin="higress-system\/fail-reload",result="ok"\} [1-9]/);
  assert.match(prom, /gateway_plugin_vm_ready\{plugin="higress-system\/fail-close",state="failed"\} 0/);
});

test('the config dump shows each plugin with its digest and the _rules_ config Higress would write', async () => {
  const dump = JSON.parse((await fetchText(`${gw.admin}/config_dump`)).text);
  const p = dump.plugins.find((x: { id: string }) => x.id === 'higress-system/per-route');
  assert.match(p.digest, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(JSON.parse(p.configuration), {
    header: 'x-scope', value: 'global',
    _rules_: [
      { header: 'x-scope', value: 'route-a', _match_route_: ['default/route-a'] },
      { header: 'x-scope', value: 'domain-b', _match_domain_: ['*.b.example'] },
    ],
  });
});
