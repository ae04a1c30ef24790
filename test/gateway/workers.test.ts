import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import cluster from 'node:cluster';
import { startGateway, type Gateway } from '../../runtime/gateway/index.js';
import { configDir, echoServer, fetchText, QUIET } from './helpers.js';
import { watPlugin } from './wat-plugins.js';
import { freePort } from '../fixtures/free-port.js';

let up: Awaited<ReturnType<typeof echoServer>>;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Gateway;
let url = '';

/** One request on a fresh connection (a worker is picked per connection). */
function status(u: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(u, { agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)); }).on('error', reject);
  });
}

before(async () => {
  up = await echoServer('up');
  dir = await configDir();
  const loop = await watPlugin(dir.dir, 'loop');
  const port = await freePort();
  await dir.write('gw.yaml', `${QUIET}  watchdogMs: 600
listeners: [{ name: main, address: 127.0.0.1, port: ${port} }]
services: [{ name: up.svc, endpoints: ["127.0.0.1:${up.port}"] }]
routes: [{ name: default/main, path: /, service: up.svc }]
plugins: [{ name: looper, url: ${loop}, failStrategy: FAIL_CLOSE }]
`);
  gw = await startGateway({ paths: [dir.dir], workers: 2, watch: false, load: { adminPort: 0 } });
  url = `http://127.0.0.1:${port}`;
});

after(async () => {
  await gw?.close();
  await up?.close();
  await dir?.remove();
});

test('two worker processes serve the same port; stats are summed across them', async () => {
  assert.equal(gw.workerPids().length, 2);
  for (let i = 0; i < 10; i++) assert.equal(await status(`${url}/w${i}`), 200);
  const prom = (await fetchText(`http://127.0.0.1:${gw.adminPort}/stats/prometheus`)).text;
  const m = /gateway_requests_total\{route="default\/main",status="200"\} (\d+)/.exec(prom);
  assert.ok(m && Number(m[1]) >= 10, prom.slice(0, 300));
});

test('repeated stats scrapes and reloads leave no listeners behind on the worker processes; reloads report what the workers reused', async () => {
  for (let i = 0; i < 25; i++) await fetchText(`http://127.0.0.1:${gw.adminPort}/stats/prometheus`);
  for (let i = 0; i < 3; i++) {
    const r = await fetchText(`http://127.0.0.1:${gw.adminPort}/reload`, { method: 'POST' });
    assert.equal(r.status, 200);
    // An unchanged config keeps each worker's plugin instance and compiles nothing.
    assert.deepEqual(JSON.parse(r.text).plugins.applied, { pluginsCreated: 0, pluginsReused: 2, modulesCompiled: 0 });
  }
  for (const w of Object.values(cluster.workers ?? {})) assert.ok(w!.listenerCount('exit') <= 2, `worker ${w!.process.pid}: ${w!.listenerCount('exit')} exit listeners`);
});

test('the watchdog replaces a worker whose event loop a looping plugin blocked; the others keep serving', async () => {
  const before = gw.workerPids();
  // This request never finishes: its worker spins in the plugin until the watchdog kills it.
  // (node:http, which never retries: a retried request would spin another worker.)
  const stuck = new Promise<string>((resolve) => {
    const req = http.get(`${url}/spin`, { agent: false, headers: { 'x-loop': '1' } }, (res) => { res.resume(); resolve('answered'); });
    req.on('error', () => resolve('reset'));
  });
  const start = Date.now();
  while (gw.watchdogKills() === 0) {
    if (Date.now() - start > 5000) throw new Error('the watchdog did not fire');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await stuck, 'reset');
  // Meanwhile and afterwards, requests are served (by the healthy worker, then by the replacement).
  for (let i = 0; i < 6; i++) assert.equal(await status(`${url}/ok${i}`), 200);
  while (gw.workerPids().length < 2) await new Promise((r) => setTimeout(r, 50));
  const after = gw.workerPids();
  assert.equal(after.filter((p) => !before.includes(p)).length, 1, 'exactly one worker was replaced');
  const prom = (await fetchText(`http://127.0.0.1:${gw.adminPort}/stats/prometheus`)).text;
  assert.match(prom, /gateway_watchdog_worker_replacements_total 1/);
  assert.match(prom, /gateway_watchdog_worker_replacements_total 1/);
});
