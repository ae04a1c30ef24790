import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../../spec/index.js';
import type { ReloadResult } from '../../runtime/gateway/index.js';
import { configDir, echoServer, fetchText, gateway, QUIET } from './helpers.js';
import { watPlugin } from './wat-plugins.js';

const HELLO = pathToFileURL(join(PACKAGE_ROOT, 'examples/hello-world/build/plugin.wasm')).href;
type Echo = Awaited<ReturnType<typeof echoServer>>;
let a: Echo, b: Echo;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function get(url: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    }).on('error', reject);
  });
}

const config = (service: string, value: string) => `${QUIET}services:
  - { name: a.svc, endpoints: ["127.0.0.1:${a.port}"] }
  - { name: b.svc, endpoints: ["127.0.0.1:${b.port}"] }
routes:
  - { name: default/main, path: /, service: ${service} }
plugins:
  - name: hello
    url: ${HELLO}
    config: { header: x-version, value: ${value} }
`;

/** Runs `workers` request loops until `stop()`; counts statuses and failures. */
function load(url: string, workers: number) {
  let running = true;
  const seen: Array<{ name: string; version: string }> = [];
  let failures = 0;
  const errors: string[] = [];
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        const r = await get(url);
        if (r.status !== 200) { failures++; errors.push(`status ${r.status}`); continue; }
        seen.push({ name: JSON.parse(r.body).name, version: String(r.headers['x-version']) });
      } catch (err) {
        failures++;
        errors.push((err as Error).message);
      }
    }
  });
  return {
    seen,
    get failures() { return failures; },
    errors,
    async stop() { running = false; await Promise.all(loops); },
  };
}

before(async () => {
  [a, b] = await Promise.all([echoServer('a'), echoServer('b')]);
  dir = await configDir();
  await dir.write('gw.yaml', config('a.svc', 'v1'));
  gw = await gateway([dir.dir], { watch: true });
});

after(async () => {
  agent.destroy();
  await gw?.close();
  await Promise.all([a, b].map((s) => s?.close()));
  await dir?.remove();
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<number> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > ms) throw new Error('timed out waiting for the new behaviour');
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - start;
}

test('a route change written to the watched file takes effect under load with zero failed requests', async () => {
  const l = load(`${gw.url}/x`, 8);
  await waitFor(() => l.seen.length > 20);
  await dir.write('gw.yaml', config('b.svc', 'v1'));
  const ms = await waitFor(() => l.seen.length > 0 && l.seen[l.seen.length - 1].name === 'b');
  const mark = l.seen.length;
  await waitFor(() => l.seen.length > mark + 50);
  await l.stop();
  assert.equal(l.failures, 0, l.errors.slice(0, 3).join('; '));
  assert.ok(l.seen.slice(mark + 8).every((s) => s.name === 'b'), 'after the swap every new request goes to b');
  assert.ok(ms < 2000, `config write → new behaviour took ${ms} ms`);
});

test('a plugin config change swaps the plugin under load with zero failed requests', async () => {
  const l = load(`${gw.url}/y`, 8);
  await waitFor(() => l.seen.length > 20);
  for (const v of ['v2', 'v3', 'v4']) {
    await dir.write('gw.yaml', config('b.svc', v));
    await waitFor(() => l.seen.length > 0 && l.seen[l.seen.length - 1].version === v);
  }
  await l.stop();
  assert.equal(l.failures, 0, l.errors.slice(0, 3).join('; '));
  const r = await get(`${gw.url}/z`);
  assert.equal(r.headers['x-version'], 'v4');
});

test('a bad config is rejected whole with file, object and field, and the old snapshot keeps serving', async () => {
  const results: ReloadResult[] = [];
  gw.controlPlane.onReload = (r) => results.push(r);
  const good = gw.controlPlane.model!.version;

  // Schema error: names the file, the object and the field.
  await dir.write('gw.yaml', config('b.svc', 'v4').replace('path: /', 'path: 7, pathType: Sideways'));
  let bad = (await gw.reload()).error!;
  assert.equal(bad.code, 'GW_CONFIG_SCHEMA');
  assert.ok(bad.location?.file?.endsWith('gw.yaml'));
  assert.equal(bad.location?.field, 'routes[0].path');
  assert.equal((await get(`${gw.url}/q`)).status, 200);

  // YAML error.
  await dir.write('gw.yaml', 'routes: [\n  - {');
  bad = (await gw.reload()).error!;
  assert.equal(bad.code, 'GW_CONFIG_YAML');

  // Unknown service reference.
  await dir.write('gw.yaml', config('nowhere.svc', 'v4'));
  bad = (await gw.reload()).error!;
  assert.equal(bad.code, 'GW_CONFIG_REFERENCE');
  assert.equal(bad.location?.object, 'route default/main');

  // A plugin whose on_configure refuses: nothing of the new config is applied.
  const refuse = await watPlugin(dir.dir, 'refuse-config');
  await dir.write('gw.yaml', `${config('a.svc', 'v9')}  - { name: picky, url: ${refuse} }\n`);
  bad = (await gw.reload()).error!;
  assert.equal(bad.code, 'GW_PLUGIN_CONFIGURE');
  assert.match(bad.message, /picky/);

  const r = await get(`${gw.url}/still`);
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).name, 'b', 'the route change in the rejected config was not applied');
  assert.equal(r.headers['x-version'], 'v4');
  assert.equal(gw.controlPlane.model!.version, good);

  const dump = JSON.parse((await fetchText(`${gw.admin}/config_dump`)).text);
  assert.equal(dump.lastError.code, 'GW_PLUGIN_CONFIGURE');
  const post = await fetchText(`${gw.admin}/reload`, { method: 'POST' });
  assert.equal(post.status, 400);
  assert.equal(JSON.parse(post.text).error.code, 'GW_PLUGIN_CONFIGURE');

  await dir.write('gw.yaml', config('a.svc', 'v5'));
  const ok = await fetchText(`${gw.admin}/reload`, { method: 'POST' });
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse((await get(`${gw.url}/back`)).body).name, 'a');
  const prom = (await fetchText(`${gw.admin}/stats/prometheus`)).text;
  assert.match(prom, /gateway_config_reloads_total\{result="failed"\} [1-9]/);
  gw.controlPlane.onReload = undefined;
});
